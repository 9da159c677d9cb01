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
  public func attachTracepoint(category: String, name event: String, options: AttachOptions = .init())
    throws(SondeError) -> BPFLink
  {
    var opts = bpf_tracepoint_opts()
    opts.sz = MemoryLayout<bpf_tracepoint_opts>.size
    opts.bpf_cookie = options.cookie
    return try link(
      "attach \(name) to tracepoint \(category):\(event)", target: "tracepoint \(category):\(event)",
      cookie: options.cookie
    ) { bpf_program__attach_tracepoint_opts(handle, category, event, &opts) }
  }

  /// Attaches to a raw tracepoint, e.g. `sys_enter`.
  ///
  /// Takes no options: raw tracepoints gained cookies in Linux 6.10, after the libbpf this project builds on.
  public func attachRawTracepoint(_ event: String) throws(SondeError) -> BPFLink {
    try link("attach \(name) to raw tracepoint \(event)", target: "raw_tp \(event)", cookie: 0) {
      bpf_program__attach_raw_tracepoint(handle, event)
    }
  }

  /// Attaches a BTF-typed program (tp_btf, fentry, fexit) to the target named in its section.
  public func attachTrace(options: AttachOptions = .init()) throws(SondeError) -> BPFLink {
    var opts = bpf_trace_opts()
    opts.sz = MemoryLayout<bpf_trace_opts>.size
    opts.cookie = options.cookie
    return try link("attach \(name) (\(section))", target: section, cookie: options.cookie) {
      bpf_program__attach_trace_opts(handle, &opts)
    }
  }

  /// Attaches to an open perf event (a perf_event program runs on each of its samples).
  public func attachPerfEvent(_ event: PerfEventFD, options: AttachOptions = .init()) throws(SondeError) -> BPFLink {
    // libbpf closes the perf fd when the link is destroyed, so it gets its own duplicate.
    let fd = try event.descriptor.duplicate()
    var opts = bpf_perf_event_opts()
    opts.sz = MemoryLayout<bpf_perf_event_opts>.size
    opts.bpf_cookie = options.cookie
    let link = try link(
      "attach \(name) to perf event \(event.label) (\(event.target))", target: event.label, cookie: options.cookie
    ) { bpf_program__attach_perf_event_opts(handle, fd.rawValue, &opts) }
    _ = fd.release()  // attached: the link owns it now
    return link
  }

  /// Opens `attributes` on every online CPU (system-wide) and attaches the program to each.
  public func attachPerfEventPerCPU(
    _ attributes: perf_event_attr, label: String, cpus: [Int32] = CPUList.online(), options: AttachOptions = .init()
  ) throws(SondeError) -> [BPFLink] {
    var links: [BPFLink] = []
    for cpu in cpus {
      let event = try PerfEventFD.open(attributes, target: .cpu(cpu), label: label)
      links.append(try attachPerfEvent(event, options: options))
    }
    return links
  }

  /// Attaches a uprobe (or uretprobe) to `symbol` in the ELF file `binary`.
  ///
  /// The symbol is resolved to a file offset through the ELF program headers; a pid's binary is opened
  /// through `/proc/PID/root` so paths resolve in the target's mount namespace.
  public func attachUprobe(binary: String, symbol: String, options: UprobeOptions = .init())
    throws(SondeError) -> BPFLink
  {
    var path = binary
    if let pid = options.pid, binary.hasPrefix("/"), fileExists("/proc/\(pid)/root\(binary)") {
      path = "/proc/\(pid)/root\(binary)"
    }
    let offset = try ELFFile.open(path: path).probeOffset(ofSymbol: symbol)
    return try attachUprobe(binary: path, offset: offset, label: symbol, options: options)
  }

  /// Attaches a uprobe at a file offset of `binary`; `label` names the place in messages.
  public func attachUprobe(binary: String, offset: UInt64, label: String? = nil, options: UprobeOptions = .init())
    throws(SondeError) -> BPFLink
  {
    let kind = options.retprobe ? "uretprobe" : "uprobe"
    let place = label ?? "0x" + String(offset, radix: 16)
    let what = "\(kind) \(binary):\(place)\(options.pid.map { " pid \($0)" } ?? "")"
    guard let fileOffset = Int(exactly: offset), let counterOffset = Int(exactly: options.referenceCounterOffset)
    else {
      throw SondeError.invalid("attach \(name) to \(what)", "an offset is beyond any file")
    }
    var opts = bpf_uprobe_opts()
    opts.sz = MemoryLayout<bpf_uprobe_opts>.size
    opts.retprobe = options.retprobe
    opts.bpf_cookie = options.cookie
    opts.ref_ctr_offset = counterOffset
    return try link("attach \(name) to \(what)", target: what, cookie: options.cookie) {
      bpf_program__attach_uprobe_opts(handle, options.pid ?? -1, binary, fileOffset, &opts)
    }
  }

  /// Attaches to a USDT probe (`provider:name`) of `binary` (the program must use libbpf's usdt.bpf.h).
  public func attachUSDT(binary: String, provider: String, name probe: String, options: USDTOptions = .init())
    throws(SondeError) -> BPFLink
  {
    var opts = bpf_usdt_opts()
    opts.sz = MemoryLayout<bpf_usdt_opts>.size
    opts.usdt_cookie = options.cookie
    // USDT cookies live in libbpf's spec map, not in the kernel's link: any USDT-capable kernel has them.
    return try link(
      "attach \(name) to usdt \(binary):\(provider):\(probe)", target: "usdt \(provider):\(probe)", cookie: 0
    ) { bpf_program__attach_usdt(handle, options.pid ?? -1, binary, provider, probe, &opts) }
  }

  /// Attaches a kprobe (or kretprobe) to a kernel function.
  public func attachKprobe(function: String, options: KprobeOptions = .init()) throws(SondeError) -> BPFLink {
    let kind = options.retprobe ? "kretprobe" : "kprobe"
    let what = options.offset == 0 ? function : "\(function)+0x\(String(options.offset, radix: 16))"
    guard let offset = Int(exactly: options.offset) else {
      throw SondeError.invalid("attach \(name) to \(kind) \(what)", "the offset is beyond any function")
    }
    var opts = bpf_kprobe_opts()
    opts.sz = MemoryLayout<bpf_kprobe_opts>.size
    opts.retprobe = options.retprobe
    opts.offset = offset
    opts.bpf_cookie = options.cookie
    return try link("attach \(name) to \(kind) \(what)", target: function, cookie: options.cookie) {
      bpf_program__attach_kprobe_opts(handle, function, &opts)
    }
  }

  /// Performs an attach call and wraps the result, or explains the failure.
  ///
  /// `cookie` is the BPF cookie the kernel was asked to keep with the link (0: none); it decides whether a
  /// failure is the kernel lacking cookies.
  func link(_ operation: String, target: String, cookie: UInt64 = 0, _ attach: () -> OpaquePointer?)
    throws(SondeError) -> BPFLink
  {
    try requireLoaded(operation)
    let mark = LibbpfLog.mark()
    let raw = attach()
    let code = errno
    let messages = LibbpfLog.messages(since: mark)
    guard let raw else { throw attachError(operation, errno: code, cookie: cookie, messages: messages) }
    return BPFLink(program: self, handle: raw, target: target)
  }

  /// Explains an attach failure: facilities this kernel lacks become "unsupported on this kernel" errors.
  func attachError(_ operation: String, errno code: Int32, cookie: UInt64 = 0, messages: [String]) -> SondeError {
    let section = self.section
    var error: SondeError
    let cookieProbe = cookie == 0 ? nil : BPFFeatures.probe(.attachCookie)
    let isMulti = section.hasPrefix("kprobe.multi") || section.hasPrefix("kretprobe.multi")
    if let cookieProbe, !cookieProbe.supported, code != ENOENT, KernelFacilities.hasBPFCapabilities {
      error = BPFErrors.unsupported(
        operation, facility: .bpfCookie, cause: .minimumKernel(isTrampoline ? "6.0" : "5.15"), errno: code,
        reason: "this kernel cannot keep a BPF cookie with a link: \(cookieProbe.reason ?? "its probe failed")",
        remedy: "attach without a cookie (one program per place, or a map keyed by address)")
    } else if type == BPF_PROG_TYPE_KPROBE && isMulti && code != ENOENT && KernelFacilities.hasBPFCapabilities {
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
        remedy:
          "use a tracepoint, raw_tp or tp_btf program, or a kernel that allows fentry (scripts/test-kernels runs one in QEMU)"
      )
    } else if code == EEXIST {
      error = SondeError(
        .invalidInput, operation: operation, errno: code,
        reason: "the program is already attached there: the kernel runs a program once per tracepoint or perf event")
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
