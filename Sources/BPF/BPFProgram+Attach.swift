import CLibbpf
import CSonde
import PerfEvents
import Symbols
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Attach helpers: one per kind of hook. Each returns an owning `BPFLink` and explains failures.
extension BPFProgram {
  /// Attaches according to the program's section name (libbpf's auto-attach).
  public func attach() throws(SondeError) -> BPFLink {
    try link("attach \(name) (\(section))", target: section) { bpf_program__attach(handle) }
  }

  /// Attaches to a tracepoint, e.g. `("syscalls", "sys_enter_getpid")`.
  public func attachTracepoint(category: String, name event: String) throws(SondeError) -> BPFLink {
    try link("attach \(name) to tracepoint \(category):\(event)", target: "tracepoint \(category):\(event)") {
      bpf_program__attach_tracepoint(handle, category, event)
    }
  }

  /// Attaches to a raw tracepoint, e.g. `sys_enter`.
  public func attachRawTracepoint(_ event: String) throws(SondeError) -> BPFLink {
    try link("attach \(name) to raw tracepoint \(event)", target: "raw_tp \(event)") {
      bpf_program__attach_raw_tracepoint(handle, event)
    }
  }

  /// Attaches a BTF-typed program (tp_btf, fentry, fexit) to the target named in its section.
  public func attachTrace() throws(SondeError) -> BPFLink {
    try link("attach \(name) (\(section))", target: section) { bpf_program__attach_trace(handle) }
  }

  /// Attaches to an open perf event (a perf_event program runs on each of its samples).
  public func attachPerfEvent(_ event: PerfEventFD) throws(SondeError) -> BPFLink {
    // libbpf closes the perf fd when the link is destroyed, so it gets its own duplicate.
    let fd = try event.descriptor.duplicate()
    let link = try link("attach \(name) to perf event \(event.label) (\(event.target))", target: event.label) {
      bpf_program__attach_perf_event(handle, fd.rawValue)
    }
    _ = fd.release()  // attached: the link owns it now
    return link
  }

  /// Opens `attributes` on every online CPU (system-wide) and attaches the program to each.
  public func attachPerfEventPerCPU(_ attributes: perf_event_attr, label: String, cpus: [Int32] = CPUList.online())
    throws(SondeError) -> [BPFLink]
  {
    var links: [BPFLink] = []
    for cpu in cpus {
      let event = try PerfEventFD.open(attributes, target: .cpu(cpu), label: label)
      links.append(try attachPerfEvent(event))
    }
    return links
  }

  /// Attaches a uprobe (or uretprobe) to `symbol` in the ELF file `binary`, for one process or all (pid nil).
  ///
  /// The symbol is resolved to a file offset through the ELF program headers; a pid's binary is opened
  /// through `/proc/PID/root` so paths resolve in the target's mount namespace.
  public func attachUprobe(binary: String, symbol: String, pid: Int32? = nil, retprobe: Bool = false)
    throws(SondeError) -> BPFLink
  {
    var path = binary
    if let pid, binary.hasPrefix("/"), fileExists("/proc/\(pid)/root\(binary)") { path = "/proc/\(pid)/root\(binary)" }
    let offset = try ELFFile.open(path: path).probeOffset(ofSymbol: symbol)
    return try attachUprobe(binary: path, offset: offset, pid: pid, retprobe: retprobe, label: symbol)
  }

  /// Attaches a uprobe at a file offset of `binary`.
  public func attachUprobe(
    binary: String, offset: UInt64, pid: Int32? = nil, retprobe: Bool = false, label: String? = nil
  )
    throws(SondeError) -> BPFLink
  {
    let kind = retprobe ? "uretprobe" : "uprobe"
    let what = "\(kind) \(binary):\(label ?? "0x" + String(offset, radix: 16))\(pid.map { " pid \($0)" } ?? "")"
    guard let fileOffset = Int(exactly: offset) else {
      throw SondeError.invalid("attach \(name) to \(what)", "offset 0x\(String(offset, radix: 16)) is beyond any file")
    }
    return try link("attach \(name) to \(what)", target: what) {
      bpf_program__attach_uprobe(handle, retprobe, pid ?? -1, binary, fileOffset)
    }
  }

  /// Attaches to a USDT probe (`provider:name`) of `binary` (the program must use libbpf's usdt.bpf.h).
  public func attachUSDT(binary: String, provider: String, name probe: String, pid: Int32? = nil)
    throws(SondeError) -> BPFLink
  {
    try link("attach \(name) to usdt \(binary):\(provider):\(probe)", target: "usdt \(provider):\(probe)") {
      bpf_program__attach_usdt(handle, pid ?? -1, binary, provider, probe, nil)
    }
  }

  /// Attaches a kprobe (or kretprobe) to a kernel function.
  public func attachKprobe(function: String, retprobe: Bool = false) throws(SondeError) -> BPFLink {
    try link("attach \(name) to \(retprobe ? "kretprobe" : "kprobe") \(function)", target: function) {
      bpf_program__attach_kprobe(handle, retprobe, function)
    }
  }

  /// Performs an attach call and wraps the result, or explains the failure.
  func link(_ operation: String, target: String, _ attach: () -> OpaquePointer?) throws(SondeError) -> BPFLink {
    try requireLoaded(operation)
    let mark = LibbpfLog.mark()
    let raw = attach()
    let code = errno
    let messages = LibbpfLog.messages(since: mark)
    guard let raw else { throw attachError(operation, errno: code, messages: messages) }
    return BPFLink(program: self, handle: raw, target: target)
  }

  /// Explains an attach failure: facilities this kernel lacks become "unsupported on this kernel" errors.
  func attachError(_ operation: String, errno code: Int32, messages: [String]) -> SondeError {
    let section = self.section
    var error: SondeError
    let isMulti = section.hasPrefix("kprobe.multi") || section.hasPrefix("kretprobe.multi")
    if type == BPF_PROG_TYPE_KPROBE && isMulti && code != ENOENT && KernelFacilities.hasBPFCapabilities {
      let why =
        code == EOPNOTSUPP
        ? "the kernel was built without CONFIG_FPROBE, which kprobe-multi links need"
        : "kprobe-multi needs fprobe (ftrace function hooks), which this kernel refuses"
      error = BPFErrors.unsupported(
        operation, facility: .kprobeMulti,
        cause: code == EOPNOTSUPP ? .missingConfig("CONFIG_FPROBE") : .deniedByPolicy,
        errno: code, reason: "\(why) (attach failed with \(errnoName(code)))")
    } else if type == BPF_PROG_TYPE_KPROBE && (section.hasPrefix("kprobe") || section.hasPrefix("kretprobe")) {
      if let missing = KernelFacilities.kprobesMissingReason {
        error = BPFErrors.unsupported(
          operation, facility: .kprobe, cause: .missingConfig("CONFIG_KPROBES"), errno: code, reason: missing)
      } else {
        error = BPFErrors.explain(operation, errno: code)
      }
    } else if isTrampoline
      && [EPERM, EOPNOTSUPP, BPFErrors.ENOTSUPP, ENODEV].contains(code) && KernelFacilities.hasBPFCapabilities
    {
      error = BPFErrors.unsupported(
        operation, facility: .fentry, cause: .deniedByPolicy, errno: code,
        reason:
          "the kernel refuses BPF trampolines: fentry/fexit attach failed with \(errnoName(code)) although this process has CAP_BPF and CAP_PERFMON (function hooks are blocked, e.g. ftrace disabled or a lockdown/VM policy)",
        remedy: "use a tracepoint, raw_tp or tp_btf program, or a kernel that allows fentry (see scripts/vm-check.sh)")
    } else if code == ENOENT {
      error = SondeError(
        .invalidInput, operation: operation, errno: code, reason: "the attach target does not exist")
    } else {
      error = BPFErrors.explain(operation, errno: code)
    }
    let relevant = messages.filter { !$0.isEmpty }.suffix(4)
    if !relevant.isEmpty { error.reason += "\n  " + relevant.joined(separator: "\n  ") }
    return error
  }
}
