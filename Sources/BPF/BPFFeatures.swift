import CLibbpf
import CSonde
import PerfEvents
import SondeBPFTypes
import Symbols
import Synchronization
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What this kernel's BPF supports, each answered by a real probe and remembered for the process.
///
/// Program, map and helper support come from libbpf's probes (a tiny load per type). Attach types need a
/// real attach: a kernel can load an fentry program yet refuse to attach it, so each attach probe loads
/// the matching program of hooks.bpf.c and attaches it. Tests ask these probes before skipping.
public enum BPFFeatures {
  /// The kinds of feature.
  public enum Category: String, Sendable, CaseIterable, Codable {
    case kernel
    case program = "program type"
    case map = "map type"
    case attach
    case helper
  }

  /// One probe's answer.
  public struct Result: Sendable, Codable, Equatable {
    public var feature: String
    public var category: Category
    public var supported: Bool
    /// Why it is unsupported (or a note when supported).
    public var reason: String?
  }

  /// Every probed feature.
  public enum Feature: String, Sendable, CaseIterable {
    // Kernel facilities.
    case btf
    case batchOps = "batch_ops"
    case perfLink = "perf_link"
    case bpfStats = "bpf_stats"
    // Program types.
    case progTracepoint = "prog_tracepoint"
    case progRawTracepoint = "prog_raw_tracepoint"
    case progPerfEvent = "prog_perf_event"
    case progKprobe = "prog_kprobe"
    case progTracing = "prog_tracing"
    // Map types.
    case hash
    case array
    case percpuHash = "percpu_hash"
    case percpuArray = "percpu_array"
    case lruHash = "lru_hash"
    case stackTrace = "stack_trace"
    case ringbuf
    case perfEventArray = "perf_event_array"
    // Attach types.
    case tracepoint
    case rawTracepoint = "raw_tp"
    case tpBTF = "tp_btf"
    case perfEvent = "perf_event"
    case uprobe
    case uprobeMulti = "uprobe_multi"
    case kprobe
    case kprobeMulti = "kprobe_multi"
    case fentry
    case fexit
    case attachCookie = "attach_cookie"
    // Helpers Sonde's programs call.
    case helperMapLookup = "map_lookup_elem"
    case helperMapUpdate = "map_update_elem"
    case helperPidTgid = "get_current_pid_tgid"
    case helperCPU = "get_smp_processor_id"
    case helperKtime = "ktime_get_ns"
    case helperRingbufReserve = "ringbuf_reserve"
    case helperRingbufSubmit = "ringbuf_submit"
    case helperPerfOutput = "perf_event_output"
    case helperTaskBTF = "get_current_task_btf"
    case helperStackID = "get_stackid"
    /// bpf_loop (Linux 5.17): the CFI unwinder's bounded walk.
    case helperLoop = "loop"
    /// bpf_task_pt_regs (Linux 5.15): a task's user registers, for samples taken in the kernel.
    case helperTaskPtRegs = "task_pt_regs"

    public var category: Category {
      switch self {
      case .btf, .batchOps, .perfLink, .bpfStats: .kernel
      case .progTracepoint, .progRawTracepoint, .progPerfEvent, .progKprobe, .progTracing: .program
      case .hash, .array, .percpuHash, .percpuArray, .lruHash, .stackTrace, .ringbuf, .perfEventArray: .map
      case .tracepoint, .rawTracepoint, .tpBTF, .perfEvent, .uprobe, .uprobeMulti, .kprobe, .kprobeMulti, .fentry,
        .fexit, .attachCookie:
        .attach
      default: .helper
      }
    }

    /// The name shown to users (without the category prefix).
    public var name: String { rawValue.hasPrefix("prog_") ? String(rawValue.dropFirst(5)) : rawValue }
  }

  private static let cache = Mutex<[Feature: Result]>([:])

  /// Probes one feature (once per process).
  public static func probe(_ feature: Feature) -> Result {
    if let known = cache.withLock({ $0[feature] }) { return known }
    let (supported, reason) = run(feature)
    let result = Result(feature: feature.name, category: feature.category, supported: supported, reason: reason)
    cache.withLock { $0[feature] = result }
    return result
  }

  /// Every feature, in declaration order.
  public static func all() -> [Result] { Feature.allCases.map(probe) }

  // MARK: Probes

  private static func run(_ feature: Feature) -> (Bool, String?) {
    if feature != .btf, let deniedReason { return (false, deniedReason) }
    switch feature {
    case .btf: return probeBTF()
    case .batchOps: return probeBatch()
    case .perfLink: return probePerfLink()
    case .bpfStats: return probeStats()
    case .progTracepoint: return programType(BPF_PROG_TYPE_TRACEPOINT)
    case .progRawTracepoint: return programType(BPF_PROG_TYPE_RAW_TRACEPOINT)
    case .progPerfEvent: return programType(BPF_PROG_TYPE_PERF_EVENT)
    case .progKprobe: return programType(BPF_PROG_TYPE_KPROBE)
    case .progTracing:
      // libbpf cannot probe tracing programs without an attach target: a loaded tp_btf program proves the type.
      let tpBTF = probe(.tpBTF)
      return tpBTF.supported ? (true, "probed by loading a tp_btf program") : (false, tpBTF.reason)
    case .hash: return mapType(BPF_MAP_TYPE_HASH)
    case .array: return mapType(BPF_MAP_TYPE_ARRAY)
    case .percpuHash: return mapType(BPF_MAP_TYPE_PERCPU_HASH)
    case .percpuArray: return mapType(BPF_MAP_TYPE_PERCPU_ARRAY)
    case .lruHash: return mapType(BPF_MAP_TYPE_LRU_HASH)
    case .stackTrace: return mapType(BPF_MAP_TYPE_STACK_TRACE)
    case .ringbuf: return mapType(BPF_MAP_TYPE_RINGBUF)
    case .perfEventArray: return mapType(BPF_MAP_TYPE_PERF_EVENT_ARRAY)
    case .tracepoint:
      return attach("sonde_probe_tp") { (program: BPFProgram) throws(SondeError) in
        try program.attachTracepoint(category: "syscalls", name: "sys_enter_getpid")
      }
    case .rawTracepoint:
      return attach("sonde_probe_raw") { (program: BPFProgram) throws(SondeError) in
        try program.attachRawTracepoint("sys_enter")
      }
    case .tpBTF:
      return attach("sonde_probe_btf") { (program: BPFProgram) throws(SondeError) in try program.attachTrace() }
    case .fentry:
      return attach("sonde_fentry") { (program: BPFProgram) throws(SondeError) in try program.attachTrace() }
    case .fexit: return attach("sonde_fexit") { (program: BPFProgram) throws(SondeError) in try program.attachTrace() }
    case .kprobe:
      return attach("sonde_kprobe") { (program: BPFProgram) throws(SondeError) in
        try program.attachKprobe(function: "do_nanosleep")
      }
    case .kprobeMulti:
      return attach("sonde_kmulti") { (program: BPFProgram) throws(SondeError) in try program.attach() }
    case .uprobe: return probeUprobe()
    case .uprobeMulti: return probeUprobeMulti()
    case .perfEvent: return probePerfEventAttach()
    case .attachCookie: return probeAttachCookie()
    case .helperMapLookup: return helper(BPF_FUNC_map_lookup_elem)
    case .helperMapUpdate: return helper(BPF_FUNC_map_update_elem)
    case .helperPidTgid: return helper(BPF_FUNC_get_current_pid_tgid)
    case .helperCPU: return helper(BPF_FUNC_get_smp_processor_id)
    case .helperKtime: return helper(BPF_FUNC_ktime_get_ns)
    case .helperRingbufReserve: return helper(BPF_FUNC_ringbuf_reserve)
    case .helperRingbufSubmit: return helper(BPF_FUNC_ringbuf_submit)
    case .helperPerfOutput: return helper(BPF_FUNC_perf_event_output)
    case .helperTaskBTF: return helper(BPF_FUNC_get_current_task_btf)
    case .helperStackID: return helper(BPF_FUNC_get_stackid, type: BPF_PROG_TYPE_PERF_EVENT)
    case .helperLoop: return helper(BPF_FUNC_loop, type: BPF_PROG_TYPE_PERF_EVENT)
    case .helperTaskPtRegs: return helper(BPF_FUNC_task_pt_regs, type: BPF_PROG_TYPE_PERF_EVENT)
    }
  }

  /// libbpf's probes cannot tell "unknown" from "not permitted" (its helper probe even answers yes when
  /// the load is refused): without CAP_BPF or CAP_SYS_ADMIN, and with unprivileged BPF disabled, the
  /// permission is the reason for every BPF feature.
  static var deniedReason: String? {
    if BPFErrors.has(.bpf) || BPFErrors.has(.sysAdmin) { return nil }
    if readSmallFile("/proc/sys/kernel/unprivileged_bpf_disabled")?.trimmingWhitespace() == "0" { return nil }
    return BPFErrors.permission("probe", errno: EPERM).reason
  }

  private static func programType(_ type: bpf_prog_type) -> (Bool, String?) {
    let rc = libbpf_probe_bpf_prog_type(type, nil)
    if rc == 1 { return (true, nil) }
    let name = String(cString: libbpf_bpf_prog_type_str(type))
    if rc == 0 { return (false, deniedReason ?? "the kernel rejects programs of type \(name)") }
    return (false, BPFErrors.explain("probe program type \(name)", errno: -rc).reason)
  }

  private static func mapType(_ type: bpf_map_type) -> (Bool, String?) {
    let rc = libbpf_probe_bpf_map_type(type, nil)
    if rc == 1 { return (true, nil) }
    let name = String(cString: libbpf_bpf_map_type_str(type))
    if rc == 0 { return (false, deniedReason ?? "the kernel rejects maps of type \(name)") }
    return (false, BPFErrors.explain("probe map type \(name)", errno: -rc).reason)
  }

  private static func helper(_ helper: bpf_func_id, type: bpf_prog_type = BPF_PROG_TYPE_TRACEPOINT) -> (Bool, String?) {
    let rc = libbpf_probe_bpf_helper(type, helper, nil)
    if rc == 1 { return (true, nil) }
    let program = String(cString: libbpf_bpf_prog_type_str(type))
    if rc == 0 {
      return (false, deniedReason ?? "the kernel does not offer helper \(helper.rawValue) to \(program) programs")
    }
    return (false, BPFErrors.explain("probe helper \(helper.rawValue)", errno: -rc).reason)
  }

  /// Loads hooks.bpf.c with only `program` and attaches it for real; the link is dropped at once.
  private static func attach(_ program: String, _ body: (BPFProgram) throws(SondeError) -> BPFLink) -> (Bool, String?) {
    do {
      let object = try OpenBPFObject(bytes: HookProgram.bytes, name: "sonde_probe")
        .load(only: [program], options: .init(logSize: 64 * 1024))
      let link = try body(object.program(program))
      link.close()
      object.close()
      return (true, nil)
    } catch {
      return (false, firstLine(error.reason))
    }
  }

  private static func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n").first ?? "")
  }

  private static func probeBTF() -> (Bool, String?) {
    guard KernelFacilities.hasKernelBTF else {
      return (false, "no /sys/kernel/btf/vmlinux: the kernel was built without CONFIG_DEBUG_INFO_BTF")
    }
    guard let btf = btf__load_vmlinux_btf() else {
      return (false, "libbpf could not parse the kernel's BTF (\(errnoName(errno)))")
    }
    btf__free(btf)
    return (true, nil)
  }

  private static func probeBatch() -> (Bool, String?) {
    let fd = bpf_map_create(BPF_MAP_TYPE_HASH, "sonde_probe", 4, 4, 1, nil)
    guard fd >= 0 else { return (false, BPFErrors.explain("create a hash map", errno: errno).reason) }
    let map = FileDescriptor(owning: fd)
    defer { map.close() }
    var keys: UInt32 = 0
    var values: UInt32 = 0
    var outBatch: UInt64 = 0
    var count: UInt32 = 1
    let rc = bpf_map_lookup_batch(fd, nil, &outBatch, &keys, &values, &count, nil)
    if rc == 0 || errno == ENOENT { return (true, nil) }
    return (false, "BPF_MAP_LOOKUP_BATCH failed with \(errnoName(errno)) (needs Linux 5.6)")
  }

  private static func probePerfLink() -> (Bool, String?) {
    let fd = loadTrivial(BPF_PROG_TYPE_TRACEPOINT, expectedAttachType: nil)
    guard fd >= 0 else { return (false, BPFErrors.explain("load a tracepoint program", errno: -fd).reason) }
    let program = FileDescriptor(owning: fd)
    defer { program.close() }
    // A bad perf event fd: EBADF means the kernel understood BPF_PERF_EVENT links (as libbpf probes it).
    let rc = bpf_link_create(fd, -1, BPF_PERF_EVENT, nil)
    if rc >= 0 { FileDescriptor(owning: rc).close() }
    if rc >= 0 || errno == EBADF { return (true, nil) }
    return (false, "BPF_LINK_CREATE does not accept perf events (\(errnoName(errno))); needs Linux 5.15")
  }

  private static func probeStats() -> (Bool, String?) {
    let fd = bpf_enable_stats(BPF_STATS_RUN_TIME)
    if fd >= 0 {
      FileDescriptor(owning: fd).close()
      return (true, nil)
    }
    return (false, BPFErrors.explain("BPF_ENABLE_STATS", errno: errno).reason)
  }

  private static func probeUprobe() -> (Bool, String?) {
    guard let libc = loadedLibrary(containing: "libc.so") else { return (false, "libc not found in /proc/self/maps") }
    return attach("sonde_probe_up") { (program: BPFProgram) throws(SondeError) in
      try program.attachUprobe(binary: libc, symbol: "getpid", options: .init(pid: getpid()))
    }
  }

  private static func probeUprobeMulti() -> (Bool, String?) {
    // BPF_TRACE_UPROBE_MULTI = 48 (Linux 6.6) postdates libbpf 1.1 and its uapi headers, so the probe is
    // libbpf's later one done by hand: a uprobe-multi link on "/" fails with EBADF where the kernel knows it.
    let attachType: UInt32 = 48
    let fd = loadTrivial(BPF_PROG_TYPE_KPROBE, expectedAttachType: bpf_attach_type(rawValue: attachType))
    guard fd >= 0 else { return (false, "the kernel rejects uprobe-multi programs (\(errnoName(-fd)))") }
    let program = FileDescriptor(owning: fd)
    defer { program.close() }
    var offset: UInt64 = 0
    let code: Int32 = "/".withCString { path in
      withUnsafeMutablePointer(to: &offset) { offsets in
        // union bpf_attr.link_create: prog_fd, target_fd, attach_type, flags, then uprobe_multi
        // { path, offsets, ref_ctr_offsets, cookies, cnt, flags, pid }.
        var attr = [UInt64](repeating: 0, count: 16)
        attr[0] = UInt64(UInt32(bitPattern: fd))
        attr[1] = UInt64(attachType)
        attr[2] = UInt64(UInt(bitPattern: path))
        attr[3] = UInt64(UInt(bitPattern: offsets))
        attr[6] = 1  // cnt
        let (rc, code) = attr.withUnsafeMutableBytes {
          Syscall.bpf(Int32(BPF_LINK_CREATE.rawValue), $0.baseAddress, size: 128)
        }
        if rc >= 0 { FileDescriptor(owning: Int32(rc)).close() }
        return rc >= 0 ? 0 : code
      }
    }
    if code == EBADF {
      return (true, "libbpf 1.1 has no attach API for uprobe-multi; Sonde attaches uprobes one by one")
    }
    return (
      false, BPFErrors.unsupportedPrefix + "the kernel has no uprobe-multi links (\(errnoName(code)); needs Linux 6.6)"
    )
  }

  /// BPF cookies need the helper that reads them and links that keep them (perf links, Linux 5.15).
  private static func probeAttachCookie() -> (Bool, String?) {
    let (hasHelper, helperReason) = helper(BPF_FUNC_get_attach_cookie, type: BPF_PROG_TYPE_KPROBE)
    guard hasHelper else { return (false, helperReason) }
    let link = probe(.perfLink)
    return link.supported ? (true, nil) : (false, link.reason)
  }

  private static func probePerfEventAttach() -> (Bool, String?) {
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue)
    attr.sample_period = 10_000_000
    return attach("sonde_probe_perf") { program throws(SondeError) in
      let event = try PerfEventFD.open(attr, target: .cpu(CPUList.online().first ?? 0), label: "cpu-clock")
      return try program.attachPerfEvent(event)
    }
  }

  /// Loads `r0 = 0; exit` as a program of `type`; returns the fd or -errno.
  private static func loadTrivial(_ type: bpf_prog_type, expectedAttachType: bpf_attach_type?) -> Int32 {
    var instructions = [bpf_insn(), bpf_insn()]
    instructions[0].code = 0xb7  // BPF_ALU64 | BPF_MOV | BPF_K: r0 = 0
    instructions[1].code = 0x95  // BPF_JMP | BPF_EXIT
    var opts = bpf_prog_load_opts()
    opts.sz = MemoryLayout<bpf_prog_load_opts>.size
    if let expectedAttachType { opts.expected_attach_type = expectedAttachType }
    let fd = bpf_prog_load(type, "sonde_probe", "GPL", instructions, 2, &opts)
    return fd >= 0 ? fd : -errno
  }

  /// The path of a library mapped into this process whose file name contains `fragment`.
  static func loadedLibrary(containing fragment: String) -> String? {
    guard let maps = try? ProcessMaps.read(pid: getpid()) else { return nil }
    return maps.mappings.first { $0.kind == .file && $0.moduleName.contains(fragment) }?.path
  }
}
