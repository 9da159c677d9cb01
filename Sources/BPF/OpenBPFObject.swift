import CLibbpf
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A BPF object (one compiled `.bpf.c`) opened from its bytes and not yet loaded: the stage where read-only
/// constants (`const volatile` globals), map sizes and the programs to load are set, as libbpf-rs's
/// `OpenObject`. `load()` consumes it and returns the live `BPFObject`; a rejected load throws with the
/// verifier's reason, its last lines, and the whole log in the error's `log`.
public struct OpenBPFObject: ~Copyable {
  /// The object name (used in error messages; libbpf prefixes map names with it).
  public let name: String
  private var handle: OpaquePointer?
  /// The ELF bytes libbpf parses in place; handed to the loaded object.
  private var image: UnsafeMutableRawBufferPointer?

  /// Opens an object from the bytes of a compiled BPF ELF file (e.g. `BPFProgramBytes.hooks`).
  public init(bytes: [UInt8], name: String) throws(SondeError) {
    _ = LibbpfLog.installed
    self.name = name
    let image = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
    bytes.withUnsafeBytes { image.copyMemory(from: $0) }
    let mark = LibbpfLog.mark()
    let handle: OpaquePointer? = name.withCString { cName in
      var opts = bpf_object_open_opts()
      opts.sz = MemoryLayout<bpf_object_open_opts>.size
      opts.object_name = cName
      return bpf_object__open_mem(image.baseAddress, bytes.count, &opts)
    }
    let code = errno
    let messages = LibbpfLog.messages(since: mark)
    guard let handle else {
      image.deallocate()
      throw SondeError(
        .corruptData, operation: "open BPF object \(name)", errno: code,
        reason: (["libbpf could not parse the object"] + messages).joined(separator: "\n  "))
    }
    self.handle = handle
    self.image = image
  }

  deinit {
    if let handle { bpf_object__close(handle) }
    image?.deallocate()
  }

  private func requireHandle(_ operation: String) throws(SondeError) -> OpaquePointer {
    guard let handle else { throw SondeError.invalid(operation, "the BPF object \(name) is gone") }
    return handle
  }

  /// Names of the object's programs (the C function names).
  public var programNames: [String] { handle.map(BPFObject.programNames(of:)) ?? [] }

  /// Names of the object's maps, as libbpf names them (`.rodata`/`.bss` maps carry the object name).
  public var mapNames: [String] { handle.map(BPFObject.mapNames(of:)) ?? [] }

  // MARK: Configuration

  /// Sets a `const volatile` global of the program (in `.rodata`), e.g. the pid to filter on.
  public mutating func setConstant<T: BitwiseCopyable>(_ variable: String, to value: T) throws(SondeError) {
    try setConstant(variable, bytes: withUnsafeBytes(of: value) { Array($0) })
  }

  /// Sets a `const volatile` array global to `elements` (as many as it holds, the rest left zero), e.g. a
  /// per-probe table.
  public mutating func setConstant<T: BitwiseCopyable>(_ variable: String, elements: [T]) throws(SondeError) {
    try setConstant(variable, bytes: elements.withUnsafeBytes { Array($0) }, prefix: true)
  }

  /// Copies `bytes` into the `.rodata` variable: exactly its size, or (with `prefix`) at most its size.
  private mutating func setConstant(_ variable: String, bytes: [UInt8], prefix: Bool = false)
    throws(SondeError)
  {
    let operation = "set constant \(variable) of \(name)"
    let handle = try requireHandle(operation)
    guard let btf = bpf_object__btf(handle) else {
      throw SondeError.invalid(operation, "the object has no BTF (compile with -g)")
    }
    var map = bpf_object__next_map(handle, nil)
    while let current = map {
      let mapName = String(cString: bpf_map__name(current))
      if mapName.hasSuffix(".rodata"), let slot = Self.variable(variable, in: ".rodata", btf: btf) {
        guard prefix ? bytes.count <= slot.size : bytes.count == slot.size else {
          throw SondeError.invalid(
            operation, "'\(variable)' is \(slot.size) bytes but the Swift value is \(bytes.count)")
        }
        var size = 0
        guard let data = bpf_map__initial_value(current, &size), slot.offset + slot.size <= size else {
          throw SondeError.invalid(operation, "the .rodata section is not accessible")
        }
        bytes.withUnsafeBytes { source in
          guard let base = source.baseAddress else { return }
          UnsafeMutableRawPointer(mutating: data).advanced(by: slot.offset).copyMemory(
            from: base, byteCount: source.count)
        }
        return
      }
      map = bpf_object__next_map(handle, current)
    }
    throw SondeError.invalid(operation, "no 'const volatile' global named '\(variable)' in \(name)")
  }

  /// BTF_KIND_DATASEC (uapi linux/btf.h; the name is ambiguous between libbpf's and the uapi header).
  static let btfKindDatasec: UInt32 = 15

  /// Finds a variable's offset and size in a data section through the object's BTF.
  static func variable(_ name: String, in section: String, btf: OpaquePointer) -> (offset: Int, size: Int)? {
    let sectionId = btf__find_by_name_kind(btf, section, btfKindDatasec)
    guard sectionId > 0, let type = btf__type_by_id(btf, UInt32(sectionId)) else { return nil }
    guard let infos = btf_var_secinfos(type) else { return nil }
    for index in 0..<Int(btf_vlen(type)) {
      let info = infos[index]
      guard let variable = btf__type_by_id(btf, info.type),
        let cName = btf__name_by_offset(btf, variable.pointee.name_off)
      else { continue }
      if String(cString: cName) == name { return (Int(info.offset), Int(info.size)) }
    }
    return nil
  }

  /// Sets a map's capacity (entries, or bytes for a ringbuf).
  public mutating func setMaxEntries(_ entries: UInt32, forMap mapName: String) throws(SondeError) {
    let handle = try requireHandle("set max entries of \(mapName)")
    guard let map = bpf_object__find_map_by_name(handle, mapName) else {
      throw SondeError.invalid(
        "set max entries of \(mapName)", "the BPF object \(name) has no map '\(mapName)'",
        remedy: "maps: \(mapNames.joined(separator: ", "))")
    }
    if bpf_map__set_max_entries(map, entries) != 0 {
      throw SondeError.invalid("set max entries of \(mapName)", "libbpf refused (\(errnoName(errno)))")
    }
  }

  /// Chooses whether a program is loaded by `load()` (all are by default).
  public mutating func setAutoload(_ enabled: Bool, program programName: String) throws(SondeError) {
    let handle = try requireHandle("set autoload of \(programName)")
    guard let program = bpf_object__find_program_by_name(handle, programName) else {
      throw SondeError.invalid(
        "find program \(programName)", "the BPF object \(name) has no program '\(programName)'",
        remedy: "programs: \(programNames.joined(separator: ", "))")
    }
    if bpf_program__set_autoload(program, enabled) != 0 {
      throw SondeError.invalid("set autoload of \(programName)", "libbpf refused")
    }
  }

  /// Names the kernel function an fentry/fexit (or tp_btf) program attaches to, before load: the verifier
  /// checks the program against that function's BTF.
  public mutating func setAttachTarget(_ function: String, program programName: String) throws(SondeError) {
    let operation = "set the attach target of \(programName) to \(function)"
    let handle = try requireHandle(operation)
    guard let program = bpf_object__find_program_by_name(handle, programName) else {
      throw SondeError.invalid(operation, "the BPF object \(name) has no program '\(programName)'")
    }
    let rc = bpf_program__set_attach_target(program, 0, function)
    if rc != 0 { throw SondeError.invalid(operation, "libbpf refused (\(errnoName(-rc)))") }
  }

  // MARK: Load

  /// Loads only `names`: every other program of the object is left out.
  public consuming func load(only names: [String], options: BPFObject.LoadOptions = .init()) throws(SondeError)
    -> BPFObject
  {
    for programName in programNames where !names.contains(programName) {
      try setAutoload(false, program: programName)
    }
    return try load(options: options)
  }

  /// Loads the object: creates its maps, applies CO-RE relocations against the kernel's BTF, and loads
  /// every program through the verifier. A rejection throws an error carrying the verifier's reason and
  /// its last lines (or the whole log with `verifierLines: nil`), and the whole log in `log`.
  public consuming func load(options: BPFObject.LoadOptions = .init()) throws(SondeError) -> BPFObject {
    let operation = "load BPF object \(name)"
    guard let handle, let image else { throw SondeError.invalid(operation, "the BPF object \(name) is gone") }
    // From here the handle and the bytes belong to the loaded object, or are released below.
    self.handle = nil
    self.image = nil
    // One log buffer per program: on failure libbpf retries with log level 1 into it.
    var buffers: [(String, UnsafeMutablePointer<CChar>)] = []
    defer { for (_, buffer) in buffers { buffer.deallocate() } }
    var prog = bpf_object__next_program(handle, nil)
    while let current = prog {
      let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: options.logSize)
      buffer[0] = 0
      bpf_program__set_log_buf(current, buffer, options.logSize)
      buffers.append((String(cString: bpf_program__name(current)), buffer))
      prog = bpf_object__next_program(handle, current)
    }
    let mark = LibbpfLog.mark()
    let rc = bpf_object__load(handle)
    let code = rc < 0 ? -rc : 0
    let messages = LibbpfLog.messages(since: mark)
    // Forget the buffers before they are freed.
    prog = bpf_object__next_program(handle, nil)
    while let current = prog {
      bpf_program__set_log_buf(current, nil, 0)
      prog = bpf_object__next_program(handle, current)
    }
    if code == 0 { return BPFObject(loaded: handle, image: image, name: name) }
    var logs: [String: VerifierLog] = [:]
    for (programName, buffer) in buffers where buffer[0] != 0 {
      logs[programName] = VerifierLog(String(cString: buffer))
    }
    let error = Self.loadError(
      name: name, handle: handle, operation: operation, errno: code, logs: logs, messages: messages, options: options)
    bpf_object__close(handle)
    image.deallocate()
    throw error
  }

  private static func loadError(
    name: String, handle: OpaquePointer, operation: String, errno code: Int32, logs: [String: VerifierLog],
    messages: [String], options: BPFObject.LoadOptions
  ) -> SondeError {
    if let (program, log) = logs.first(where: { !$0.value.lines.isEmpty }), code != EPERM || log.reason != nil {
      let shown = options.verifierLines.map { log.tail($0) } ?? log.lines
      var reason = "the verifier rejected program '\(program)': \(log.reason ?? "no reason given")"
      if shown.count < log.lines.count {
        reason += "\n  verifier log (last \(shown.count) of \(log.lines.count) lines):"
      } else {
        reason += "\n  verifier log:"
      }
      reason += shown.map { "\n    " + $0 }.joined()
      var error = SondeError(
        .invalidInput, operation: "load BPF program \(program) of \(name)", errno: code, reason: reason,
        remedy: "fix the program; the whole log is in the error's log, or shown with verifierLines: nil")
      error.log = log.lines
      return error
    }
    // libbpf names the program that failed: "prog 'NAME': BPF program load failed: …".
    let failed = messages.lazy.compactMap { line -> String? in
      let parts = line.split(separator: "'", omittingEmptySubsequences: false)
      guard parts.count >= 3, parts[0].hasSuffix("prog "), line.contains("load failed") else { return nil }
      return String(parts[1])
    }.first
    var error = BPFErrors.explain(operation, errno: code)
    if let failed, code == EPERM || code == EACCES || code == BPFErrors.ENOTSUPP,
      let program = bpf_object__find_program_by_name(handle, failed), BPFProgram.isTrampoline(program),
      KernelFacilities.hasBPFCapabilities
    {
      let section = String(cString: bpf_program__section_name(program))
      error = BPFErrors.unsupported(
        "load BPF program \(failed) of \(name)", facility: .fentry, cause: .deniedByPolicy, errno: code,
        reason:
          "the kernel refuses BPF trampolines: loading the \(section) program failed with \(errnoName(code)) although this process has CAP_BPF and CAP_PERFMON (fentry/fexit need ftrace function hooks, which are blocked here)",
        remedy: "use a tracepoint, raw_tp or tp_btf program instead, or run on a kernel that allows fentry")
    }
    // RLIMIT_MEMLOCK is irrelevant on kernels that account BPF memory to memcg (≥ 5.11): drop libbpf's hint.
    let relevant = messages.filter { !$0.isEmpty && !$0.contains("ulimit -l") }.suffix(6)
    if !relevant.isEmpty { error.reason += "\n  " + relevant.joined(separator: "\n  ") }
    return error
  }
}
