import CLibbpf
import PerfEvents
import Synchronization

/// An attachment of a program to a hook. Owns the kernel link: `close()` or deinit detaches it.
public final class BPFLink: @unchecked Sendable {
  /// The attached program (keeps the object alive while the link exists).
  public let program: BPFProgram
  /// What the link is attached to, e.g. `tracepoint syscalls:sys_enter_getpid`.
  public let target: String
  private let handle: Mutex<UnsafeHandle>

  init(program: BPFProgram, handle: OpaquePointer, target: String) {
    self.program = program
    self.handle = Mutex(UnsafeHandle(handle))
    self.target = target
    program.object.register(self)
  }

  deinit { close() }

  /// Detaches. Safe to call twice.
  public func close() {
    let current = handle.withLock { value -> UnsafeHandle in
      defer { value.pointer = nil }
      return value
    }.pointer
    if let current { bpf_link__destroy(current) }
  }

  /// Whether the link is still attached.
  public var isAttached: Bool { handle.withLock { $0.pointer != nil } }
}
