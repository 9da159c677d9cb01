import BPF
import PerfEvents
import SondeBPFPrograms
import SondeBPFTypes
import SondeSystem

/// trace.bpf.c loaded for one run: configured through its read-only constants for the options and the
/// resolved probes (their roles and tracepoint fields), only the programs the probes need loaded, one link
/// per probe. Owns the object and its links; `close()` or deinit releases them.
final class TraceProgram {
  let object: BPFObject
  let probes: [ResolvedProbe]
  private var links = AttachedLinks()
  let counts: BPFMap<sonde_trace_key, UInt64>
  let stacks: BPFMap<UInt32, sonde_trace_stack>
  let histogram: BPFMap<sonde_trace_hist_key, UInt64>
  let sums: BPFMap<sonde_trace_hist_key, sonde_trace_sum>
  let stats: BPFMap<UInt32, UInt64>
  let targets: BPFMap<UInt32, UInt8>
  let events: RingBufferReader<sonde_trace_event>?
  /// Processes seen for the first time (--by stack), for their mappings to be read while they live.
  let newProcesses: RingBufferReader<UInt32>
  private let followsTargets: Bool

  static let maxProbes = Int(SONDE_TRACE_MAX_PROBES)
  static let fixedPrograms = Int(SONDE_TRACE_FIXED_PROGRAMS)

  /// Loads the object for `probes`, which must be ordered with the fixed-program kinds (raw_tp, fentry,
  /// fexit) first: a probe's index is its cookie, and those programs have their index built in.
  init(options: TraceOptions, probes: [ResolvedProbe], cgroupID: UInt64?) throws(SondeError) {
    self.probes = probes
    followsTargets = options.target != .everyone
    var open = try OpenBPFObject(bytes: BPFProgramBytes.trace, name: "trace")
    var mode: UInt32 = 0
    if options.count != nil { mode |= UInt32(SONDE_TRACE_COUNT.rawValue) }
    if options.latency != nil { mode |= UInt32(SONDE_TRACE_LATENCY.rawValue) }
    if options.events { mode |= UInt32(SONDE_TRACE_EVENTS.rawValue) }
    try open.setConstant("mode", to: mode)
    try open.setConstant("count_by", to: Self.countBy(options.count ?? .probe).rawValue)
    try open.setConstant("latency_by", to: Self.latencyBy(options.latency ?? .nothing).rawValue)
    if case .argument(let n) = options.count { try open.setConstant("arg_index", to: UInt32(n)) }
    if followsTargets { try open.setConstant("filter_targets", to: UInt32(1)) }
    if let comm = options.comm {
      var bytes = [UInt8](repeating: 0, count: 16)
      for (i, byte) in comm.utf8.prefix(15).enumerated() { bytes[i] = byte }
      try open.setConstant("filter_comm", elements: bytes)
    }
    if let cgroupID { try open.setConstant("filter_cgroup", to: cgroupID) }
    try Self.configureHistogram(&open, options.histogram)
    try Self.configureProbes(&open, probes, options: options)

    let counting = options.count != nil
    let byStack = options.count == .userStack || options.count == .kernelStack
    try open.setMaxEntries(counting ? options.mapEntries : 1, forMap: "counts")
    try open.setMaxEntries(byStack ? options.stackEntries : 1, forMap: "stacks")
    try open.setMaxEntries(options.count == .userStack ? 32768 : 1, forMap: "seen")
    if options.count == .userStack { try open.setMaxEntries(256 << 10, forMap: "new_pids") }
    try open.setMaxEntries(options.latency != nil ? options.mapEntries : 1, forMap: "starts")
    try open.setMaxEntries(options.latency != nil ? options.mapEntries : 1, forMap: "histogram")
    try open.setMaxEntries(options.latency != nil ? options.mapEntries : 1, forMap: "sums")
    try open.setMaxEntries(options.events ? options.ringbufBytes : 4096, forMap: "events")

    var programs = Set<String>()
    for (index, probe) in probes.enumerated() {
      let name = try Self.programName(probe, index: index)
      if case .fentry(let function, _) = probe.place { try open.setAttachTarget(function, program: name) }
      programs.insert(name)
    }
    if followsTargets { programs.formUnion(["sonde_trace_fork", "sonde_trace_exec"]) }
    object = try open.load(only: Array(programs))
    counts = try object.map("counts")
    stacks = try object.map("stacks")
    histogram = try object.map("histogram")
    sums = try object.map("sums")
    stats = try object.map("trace_stats")
    targets = try object.map("targets")
    events = options.events ? try RingBufferReader(object: object, map: "events") : nil
    newProcesses = try RingBufferReader(object: object, map: "new_pids")
  }

  deinit { close() }

  /// The program a probe runs: one per kind, or for raw_tp/fentry/fexit the one bound to its index.
  static func programName(_ probe: ResolvedProbe, index: Int) throws(SondeError) -> String {
    if probe.usesFixedProgram && index >= fixedPrograms {
      throw SondeError.invalid(
        "attach \(probe.label)", "at most \(fixedPrograms) rawtp, fentry and fexit probes can be traced at once",
        remedy: "use tracepoint: probes (their links carry a cookie, so any number share one program)")
    }
    switch probe.place {
    case .tracepoint: return "sonde_trace_tp"
    case .rawTracepoint: return "sonde_trace_raw\(index)"
    case .uprobe(_, _, let isReturn): return isReturn ? "sonde_trace_uretprobe" : "sonde_trace_uprobe"
    case .usdt: return "sonde_trace_usdt"
    case .kprobe(_, _, let isReturn): return isReturn ? "sonde_trace_kretprobe" : "sonde_trace_kprobe"
    case .fentry(_, let isExit): return isExit ? "sonde_trace_fexit\(index)" : "sonde_trace_fentry\(index)"
    }
  }

  static func countBy(_ key: TraceOptions.CountKey) -> sonde_trace_by {
    switch key {
    case .probe: SONDE_TRACE_BY_PROBE
    case .comm: SONDE_TRACE_BY_COMM
    case .pid: SONDE_TRACE_BY_PID
    case .tid: SONDE_TRACE_BY_TID
    case .userStack: SONDE_TRACE_BY_USTACK
    case .kernelStack: SONDE_TRACE_BY_KSTACK
    case .argument: SONDE_TRACE_BY_ARG
    case .returnValue: SONDE_TRACE_BY_RETVAL
    }
  }

  static func latencyBy(_ group: TraceOptions.LatencyGroup) -> sonde_trace_by {
    switch group {
    case .nothing: SONDE_TRACE_BY_NOTHING
    case .probe: SONDE_TRACE_BY_PROBE
    case .comm: SONDE_TRACE_BY_COMM
    case .pid: SONDE_TRACE_BY_PID
    }
  }

  private static func configureHistogram(_ open: inout OpenBPFObject, _ histogram: TraceOptions.Histogram)
    throws(SondeError)
  {
    try open.setConstant("unit", to: histogram.unit.nanoseconds)
    guard let linear = histogram.linear else { return }
    guard linear.step > 0, linear.high > linear.low else {
      throw SondeError.invalid("--linear \(linear.low),\(linear.high),\(linear.step)", "needs MIN < MAX and STEP > 0")
    }
    let buckets = (linear.high - linear.low) / linear.step
    guard buckets + 2 <= UInt64(SONDE_TRACE_HIST_SLOTS) else {
      throw SondeError.invalid(
        "--linear \(linear.low),\(linear.high),\(linear.step)",
        "\(buckets) buckets; at most \(SONDE_TRACE_HIST_SLOTS - 2)", remedy: "use a larger STEP")
    }
    try open.setConstant("linear", to: UInt32(1))
    try open.setConstant("low", to: linear.low)
    try open.setConstant("high", to: linear.high)
    try open.setConstant("step", to: linear.step)
  }

  /// The per-probe tables: latency roles, and for tracepoints the fields argN, retval and an event's string
  /// read, and how many record bytes an event copies.
  private static func configureProbes(
    _ open: inout OpenBPFObject, _ probes: [ResolvedProbe], options: TraceOptions
  ) throws(SondeError) {
    guard probes.count <= maxProbes else {
      throw SondeError.invalid(
        "attach \(probes.count) probes", "at most \(maxProbes) probes can be traced at once",
        remedy: "narrow the globs")
    }
    var roles = [UInt8](repeating: 0, count: probes.count)
    var argFields = [sonde_trace_field](repeating: sonde_trace_field(), count: probes.count)
    var retFields = argFields
    var stringFields = argFields
    var pairFields = [argFields, argFields]
    var recordBytes = [UInt16](repeating: 0, count: probes.count)
    var fixedBytes = recordBytes
    let limit = Int(SONDE_TRACE_RECORD_BYTES)
    for (i, probe) in probes.enumerated() {
      roles[i] = probe.isExit ? UInt8(SONDE_TRACE_EXIT.rawValue) : UInt8(SONDE_TRACE_ENTRY.rawValue)
      guard let format = probe.format else { continue }
      for (k, field) in probe.pairFields.prefix(2).enumerated() { pairFields[k][i] = Self.field(field) }
      if case .argument(let n) = options.count, let field = argument(n, of: format) {
        argFields[i] = Self.field(field)
      }
      if let ret = format.field(named: "ret") { retFields[i] = Self.field(ret) }
      guard options.events else { continue }
      let fixed = min(format.fixedSize, limit)
      fixedBytes[i] = UInt16(fixed)
      recordBytes[i] = UInt16(format.fields.contains(where: \.isDynamic) ? limit : fixed)
      if let path = format.arguments.first(where: { $0.isPointer && $0.type.contains("char") && $0.size == 8 }) {
        stringFields[i] = Self.field(path)
      }
    }
    try open.setConstant("probe_role", elements: roles)
    try open.setConstant("arg_field", elements: argFields)
    try open.setConstant("ret_field", elements: retFields)
    try open.setConstant("string_field", elements: stringFields)
    try open.setConstant("pair_field0", elements: pairFields[0])
    try open.setConstant("pair_field1", elements: pairFields[1])
    try open.setConstant("record_bytes", elements: recordBytes)
    try open.setConstant("record_fixed_bytes", elements: fixedBytes)
  }

  /// A tracepoint's argument N: its Nth field after the common header, not counting a syscall tracepoint's
  /// `__syscall_nr` (so arg0 of sys_enter_openat is `dfd`, as the syscall's first argument).
  static func argument(_ n: Int, of format: TracepointFormat) -> TracepointFormat.Field? {
    let fields = format.arguments.filter { $0.name != "__syscall_nr" }
    return n < fields.count ? fields[n] : nil
  }

  static func field(_ f: TracepointFormat.Field) -> sonde_trace_field {
    guard [1, 2, 4, 8].contains(f.size), f.arrayLength == 0, !f.isDynamic, let offset = UInt16(exactly: f.offset)
    else { return sonde_trace_field() }
    return sonde_trace_field(offset: offset, size: UInt8(f.size), is_signed: f.isSigned ? 1 : 0)
  }

  /// Makes `pid` a target (with `atExec`, once it execs).
  func addTarget(_ pid: Int32, atExec: Bool) throws(SondeError) {
    try targets.update(
      UInt32(bitPattern: pid), atExec ? ProcessTracking.targetAtExec : ProcessTracking.targetActive)
  }

  /// Attaches the fork and exec hooks of targets, then every probe (the index is its cookie). The hooks
  /// come first so that, on a tracepoint both use, they run first: a command's own sched_process_exec hit
  /// finds it already active (the kernel calls a tracepoint's handlers in the order they registered).
  func attach(pid: Int32?) throws(SondeError) {
    if followsTargets {
      links.add(try object.program("sonde_trace_fork").attachRawTracepoint("sched_process_fork"))
      links.add(try object.program("sonde_trace_exec").attachRawTracepoint("sched_process_exec"))
    }
    for (index, probe) in probes.enumerated() {
      let program = try object.program(try Self.programName(probe, index: index))
      let cookie = UInt64(index)
      switch probe.place {
      case .tracepoint(let subsystem, let event):
        links.add(try program.attachTracepoint(category: subsystem, name: event, options: .init(cookie: cookie)))
      case .rawTracepoint(let event):
        links.add(try program.attachRawTracepoint(event))
      case .uprobe(let path, let offset, let isReturn):
        links.add(
          try program.attachUprobe(
            binary: path, offset: offset, label: probe.label,
            options: UprobeOptions(retprobe: isReturn, cookie: cookie)))
      case .usdt(let path, let provider, let name):
        links.add(
          try program.attachUSDT(
            binary: path, provider: provider, name: name, options: USDTOptions(pid: pid, cookie: cookie)))
      case .kprobe(let function, let offset, let isReturn):
        links.add(
          try program.attachKprobe(
            function: function, options: KprobeOptions(retprobe: isReturn, offset: offset, cookie: cookie)))
      case .fentry:
        links.add(try program.attachTrace())
      }
    }
  }

  /// Detaches every program: nothing is counted after this.
  func detach() { links.closeAll() }

  func close() {
    detach()
    events?.close()
    newProcesses.close()
    object.close()
  }

  /// The program's accounting slots (SONDE_TRACE_STAT_*), summed over CPUs.
  func counters() throws(SondeError) -> [UInt64] {
    try stats.summedCounters(slots: Int(SONDE_TRACE_STAT_SLOTS.rawValue))
  }
}
