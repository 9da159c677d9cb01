import CLibbpf
import PerfEvents
import Synchronization
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A BPF object (one compiled `.bpf.c`): opened from embedded bytes, configured, then loaded into the kernel.
///
/// Before `load()` you may set read-only constants (`const volatile` globals), map sizes and which programs
/// load; after it, programs and maps are live. Closing the object (explicitly or on deinit) detaches every
/// link made from its programs and releases every program and map, so nothing of Sonde's stays in the kernel.
public final class BPFObject: @unchecked Sendable {
  /// Options for `load()`.
  public struct LoadOptions: Sendable {
    /// Bytes of verifier log kept per program when a load fails.
    public var logSize: Int = 1 << 20
    /// How many trailing verifier lines a rejection error shows; nil shows the whole log.
    public var verifierLines: Int? = 20
    public init(logSize: Int = 1 << 20, verifierLines: Int? = 20) {
      self.logSize = logSize
      self.verifierLines = verifierLines
    }
  }

  /// The object name (used in error messages; libbpf prefixes map names with it).
  public let name: String
  private let state: Mutex<State>

  struct State {
    var handle: OpaquePointer?
    var loaded = false
    var links: [WeakLink] = []
    var verifierLogs: [String: VerifierLog] = [:]
  }

  struct WeakLink { weak var link: BPFLink? }

  /// The ELF bytes libbpf parses in place; kept alive as long as the object.
  private let image: UnsafeMutableRawBufferPointer

  /// Opens an object from the bytes of a compiled BPF ELF file (e.g. `BPFProgramBytes.hooks`).
  public init(bytes: [UInt8], name: String) throws(SondeError) {
    _ = LibbpfLog.installed
    self.name = name
    let image = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
    bytes.withUnsafeBytes { image.copyMemory(from: $0) }
    self.image = image
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
    state = Mutex(State(handle: handle))
  }

  deinit {
    close()
    image.deallocate()
  }

  /// Detaches every link made from this object's programs, then unloads its programs and maps.
  public func close() {
    let (handle, links) = state.withLock { state -> (OpaquePointer?, [WeakLink]) in
      let result = (state.handle, state.links)
      state.handle = nil
      state.links = []
      return result
    }
    for entry in links { entry.link?.close() }
    if let handle { bpf_object__close(handle) }
  }

  /// Whether `load()` has succeeded (and the object is not closed).
  public var isLoaded: Bool { state.withLock { $0.loaded && $0.handle != nil } }

  func withHandle<R>(_ operation: String, _ body: (OpaquePointer) throws(SondeError) -> R) throws(SondeError) -> R {
    guard let handle = state.withLock({ $0.handle }) else {
      throw SondeError.invalid(operation, "the BPF object \(name) is closed")
    }
    return try body(handle)
  }

  func register(_ link: BPFLink) {
    state.withLock { state in
      state.links.removeAll { $0.link == nil }
      state.links.append(WeakLink(link: link))
    }
  }

  // MARK: Programs and maps

  /// Names of the object's programs (the C function names).
  public var programNames: [String] {
    (try? withHandle("list programs") { handle in
      var names: [String] = []
      var prog = bpf_object__next_program(handle, nil)
      while let current = prog {
        names.append(String(cString: bpf_program__name(current)))
        prog = bpf_object__next_program(handle, current)
      }
      return names
    }) ?? []
  }

  /// Names of the object's maps, as libbpf names them (`.rodata`/`.bss` maps carry the object name).
  public var mapNames: [String] {
    (try? withHandle("list maps") { handle in
      var names: [String] = []
      var map = bpf_object__next_map(handle, nil)
      while let current = map {
        names.append(String(cString: bpf_map__name(current)))
        map = bpf_object__next_map(handle, current)
      }
      return names
    }) ?? []
  }

  /// The program with this (C function) name.
  public func program(_ name: String) throws(SondeError) -> BPFProgram {
    try withHandle("find program \(name)") { handle throws(SondeError) in
      guard let prog = bpf_object__find_program_by_name(handle, name) else {
        throw SondeError.invalid(
          "find program \(name)", "the BPF object \(self.name) has no program '\(name)'",
          remedy: "programs: \(programNames.joined(separator: ", "))")
      }
      return BPFProgram(object: self, handle: prog)
    }
  }

  func mapHandle(_ name: String) throws(SondeError) -> OpaquePointer {
    try withHandle("find map \(name)") { handle throws(SondeError) in
      guard let map = bpf_object__find_map_by_name(handle, name) else {
        throw SondeError.invalid(
          "find map \(name)", "the BPF object \(self.name) has no map '\(name)'",
          remedy: "maps: \(mapNames.joined(separator: ", "))")
      }
      return map
    }
  }

  /// The map with this name, typed. The key and value types must have the map's key and value sizes.
  public func map<Key: BitwiseCopyable, Value: BitwiseCopyable>(
    _ name: String, key: Key.Type = Key.self, value: Value.Type = Value.self
  ) throws(SondeError) -> BPFMap<Key, Value> {
    try BPFMap(object: self, handle: mapHandle(name), name: name)
  }

  // MARK: Configuration before load

  /// Sets a `const volatile` global of the program (in `.rodata`) before load, e.g. the pid to filter on.
  public func setConstant<T: BitwiseCopyable>(_ variable: String, to value: T) throws(SondeError) {
    let operation = "set constant \(variable) of \(name)"
    try withHandle(operation) { handle throws(SondeError) in
      if state.withLock({ $0.loaded }) { throw SondeError.invalid(operation, "constants must be set before load()") }
      guard let btf = bpf_object__btf(handle) else {
        throw SondeError.invalid(operation, "the object has no BTF (compile with -g)")
      }
      var map = bpf_object__next_map(handle, nil)
      while let current = map {
        let mapName = String(cString: bpf_map__name(current))
        if mapName.hasSuffix(".rodata"), let slot = Self.variable(variable, in: ".rodata", btf: btf) {
          guard slot.size == MemoryLayout<T>.size else {
            throw SondeError.invalid(
              operation, "'\(variable)' is \(slot.size) bytes but the Swift value is \(MemoryLayout<T>.size)")
          }
          var size = 0
          guard let data = bpf_map__initial_value(current, &size), slot.offset + slot.size <= size else {
            throw SondeError.invalid(operation, "the .rodata section is not accessible")
          }
          withUnsafeBytes(of: value) { bytes in
            UnsafeMutableRawPointer(mutating: data).advanced(by: slot.offset).copyMemory(
              from: bytes.baseAddress!, byteCount: bytes.count)
          }
          return
        }
        map = bpf_object__next_map(handle, current)
      }
      throw SondeError.invalid(operation, "no 'const volatile' global named '\(variable)' in \(name)")
    }
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

  /// Sets a map's capacity (entries, or bytes for a ringbuf) before load.
  public func setMaxEntries(_ entries: UInt32, forMap mapName: String) throws(SondeError) {
    let map = try mapHandle(mapName)
    if bpf_map__set_max_entries(map, entries) != 0 {
      throw SondeError.invalid(
        "set max entries of \(mapName)", "libbpf refused (\(errnoName(errno))); set it before load()")
    }
  }

  /// Chooses whether a program is loaded by `load()` (all are by default).
  public func setAutoload(_ enabled: Bool, program programName: String) throws(SondeError) {
    let program = try program(programName)
    if bpf_program__set_autoload(program.handle, enabled) != 0 {
      throw SondeError.invalid("set autoload of \(programName)", "libbpf refused; set it before load()")
    }
  }

  /// Loads only `names`: every other program of the object is left out.
  public func loadOnly(_ names: [String], options: LoadOptions = LoadOptions()) throws(SondeError) {
    for programName in programNames where !names.contains(programName) {
      try setAutoload(false, program: programName)
    }
    try load(options: options)
  }

  // MARK: Load

  /// Loads the object: creates its maps, applies CO-RE relocations against the kernel's BTF, and loads
  /// every program through the verifier. A rejection throws an error carrying the verifier's reason and
  /// its last lines (or the whole log with `verifierLines: nil`); `verifierLog(for:)` keeps the full log.
  public func load(options: LoadOptions = LoadOptions()) throws(SondeError) {
    let operation = "load BPF object \(name)"
    try withHandle(operation) { handle throws(SondeError) in
      if state.withLock({ $0.loaded }) { return }
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
      if code == 0 {
        state.withLock { $0.loaded = true }
        return
      }
      var logs: [String: VerifierLog] = [:]
      for (programName, buffer) in buffers where buffer[0] != 0 {
        logs[programName] = VerifierLog(String(cString: buffer))
      }
      state.withLock { $0.verifierLogs = logs }
      throw loadError(operation: operation, errno: code, logs: logs, messages: messages, options: options)
    }
  }

  /// The verifier log of a program whose load failed (the whole log).
  public func verifierLog(for program: String) -> VerifierLog? {
    state.withLock { $0.verifierLogs[program] }
  }

  private func loadError(
    operation: String, errno code: Int32, logs: [String: VerifierLog], messages: [String], options: LoadOptions
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
      return SondeError(
        .invalidInput, operation: "load BPF program \(program) of \(name)", errno: code, reason: reason,
        remedy: "fix the program; the full log is available with verifierLines: nil")
    }
    // libbpf names the program that failed: "prog 'NAME': BPF program load failed: …".
    let failed = messages.lazy.compactMap { line -> String? in
      let parts = line.split(separator: "'", omittingEmptySubsequences: false)
      guard parts.count >= 3, parts[0].hasSuffix("prog "), line.contains("load failed") else { return nil }
      return String(parts[1])
    }.first
    var error = BPFErrors.explain(operation, errno: code)
    if let failed, code == EPERM || code == EACCES || code == BPFErrors.ENOTSUPP,
      let program = try? program(failed), program.isTrampoline, KernelFacilities.hasBPFCapabilities
    {
      error = BPFErrors.unsupported(
        "load BPF program \(failed) of \(name)", facility: .fentry, cause: .deniedByPolicy, errno: code,
        reason:
          "the kernel refuses BPF trampolines: loading the \(program.section) program failed with \(errnoName(code)) although this process has CAP_BPF and CAP_PERFMON (fentry/fexit need ftrace function hooks, which are blocked here)",
        remedy: "use a tracepoint, raw_tp or tp_btf program instead, or run on a kernel that allows fentry")
    }
    // RLIMIT_MEMLOCK is irrelevant on kernels that account BPF memory to memcg (≥ 5.11): drop libbpf's hint.
    let relevant = messages.filter { !$0.isEmpty && !$0.contains("ulimit -l") }.suffix(6)
    if !relevant.isEmpty { error.reason += "\n  " + relevant.joined(separator: "\n  ") }
    return error
  }
}
