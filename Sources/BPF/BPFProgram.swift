import CLibbpf
import PerfEvents
import SondeSystem

/// One program of a loaded `BPFObject`. Attach it with the `attach…` methods; each returns an owning
/// `BPFLink` that detaches when closed or dropped.
public final class BPFProgram: @unchecked Sendable {
  /// The object the program belongs to (kept alive by the program).
  public let object: BPFObject
  let handle: OpaquePointer

  init(object: BPFObject, handle: OpaquePointer) {
    self.object = object
    self.handle = handle
  }

  /// The program's name (its C function name; the kernel keeps the first 15 characters).
  public var name: String { String(cString: bpf_program__name(handle)) }

  /// The ELF section name, e.g. `tracepoint/syscalls/sys_enter_getpid`.
  public var section: String { String(cString: bpf_program__section_name(handle)) }

  /// The kernel program type.
  public var type: bpf_prog_type { bpf_program__type(handle) }

  /// Whether the program is an fentry/fexit/fmod_ret program (a BPF trampoline on a kernel function).
  var isTrampoline: Bool { Self.isTrampoline(handle) }

  /// Whether a libbpf program is a BPF trampoline (fentry, fexit, fmod_ret), which needs ftrace function hooks.
  static func isTrampoline(_ handle: OpaquePointer) -> Bool {
    bpf_program__type(handle) == BPF_PROG_TYPE_TRACING
      && [BPF_TRACE_FENTRY, BPF_TRACE_FEXIT, BPF_MODIFY_RETURN].contains(bpf_program__expected_attach_type(handle))
  }

  /// Whether the program was loaded (it must be, to attach).
  var isLoaded: Bool { object.isLoaded && bpf_program__fd(handle) >= 0 }

  func requireLoaded(_ operation: String) throws(SondeError) {
    guard isLoaded else {
      throw SondeError.invalid(operation, "program \(name) is not loaded", remedy: "call load() on its BPFObject first")
    }
  }
}

extension BPFProgram {
  /// The kernel's id for the loaded program (what `bpftool prog show` lists), or nil if not loaded.
  public var kernelID: UInt32? {
    let fd = bpf_program__fd(handle)
    guard fd >= 0 else { return nil }
    var info = bpf_prog_info()
    var length = UInt32(MemoryLayout<bpf_prog_info>.size)
    guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0 else { return nil }
    return info.id
  }
}
