import ArgumentParser
import Profiles
import SondeBPFEngines
import SondeSystem
import SondeText

// Ready-made tools named like their libbpf-tools counterparts: each is a fixed set of probes and modes over
// the generic tracer (or, for offcputime, the profiler's off-CPU mode).

/// `sonde trace syscount`: system calls counted (and with -L timed) per syscall or per process.
struct SyscountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "syscount", abstract: "Count system calls per syscall or process (-L: with their latency).")

  @Flag(name: [.customShort("P"), .customLong("process")], help: "Count per process instead of per syscall.")
  var perProcess = false
  @Flag(name: [.customShort("L"), .customLong("latency")], help: "Also time each call (enter to exit).")
  var latency = false
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    var options = TraceOptions()
    options.probes = try parseProbes(["tracepoint:syscalls:sys_enter_*"])
    options.count = perProcess ? .pid : .probe
    if latency {
      options.probes += try parseProbes(["tracepoint:syscalls:sys_exit_*"], isExit: true)
      options.latency = perProcess ? .pid : .probe
      options.histogram = .init(unit: .nanoseconds)
    }
    try common.apply(to: &options, command: command)
    let json = common.json
    let run = try runTracer(options, verb: "syscount") { tracer in
      tracer.onInterval = { snapshot in writeStdout(Self.render(snapshot, perProcess: perProcess, json: json)) }
    }
    if options.interval == nil { writeStdout(Self.render(run.total, perProcess: perProcess, json: json)) }
    try finishTrace(run, verb: "syscount")
  }

  /// One row per syscall (name without `sys_enter_`) or per process, most calls first.
  static func render(_ snapshot: TraceSnapshot, perProcess: Bool, json: Bool) -> String {
    struct Row {
      var name: String
      var count: UInt64 = 0
      var nanoseconds: UInt64?
    }
    var rows: [String: Row] = [:]
    for c in snapshot.counts {
      let name = perProcess ? "\(c.pid) \(c.comm)" : syscallName(c.probe)
      rows[name, default: Row(name: name)].count +|= c.count
    }
    for h in snapshot.histograms {
      let name = perProcess ? h.group : syscallName(h.group)
      let before: UInt64 = rows[name]?.nanoseconds ?? 0
      rows[name, default: Row(name: name)].nanoseconds = before.saturatingAdd(h.totalNanoseconds)
    }
    let sorted = rows.values.sorted { ($0.count, $1.name) > ($1.count, $0.name) }
    if json {
      let items = sorted.map { row -> String in
        var o = JSONObject()
        o.add(perProcess ? "process" : "syscall", row.name)
        o.add("count", row.count)
        if let ns = row.nanoseconds { o.add("total_ns", ns) }
        return o.text()
      }
      return jsonArray(items) + "\n"
    }
    let width = max(perProcess ? 7 : 7, sorted.map(\.name.count).max() ?? 0)
    var out = (perProcess ? "PROCESS" : "SYSCALL").padded(to: width) + "  " + "COUNT".padded(to: 10, alignRight: true)
    let timed = sorted.contains { $0.nanoseconds != nil }
    out +=
      timed
      ? "  " + "TOTAL ms".padded(to: 12, alignRight: true) + "  " + "AVG us".padded(to: 10, alignRight: true) + "\n"
      : "\n"
    for row in sorted {
      out += row.name.padded(to: width) + "  " + String(row.count).padded(to: 10, alignRight: true)
      if timed {
        let ns = Double(row.nanoseconds ?? 0)
        out +=
          "  " + fixed(ns / 1e6, 3).padded(to: 12, alignRight: true) + "  "
          + fixed(row.count == 0 ? 0 : ns / Double(row.count) / 1e3, 3).padded(to: 10, alignRight: true)
      }
      out += "\n"
    }
    return out
  }

  static func syscallName(_ probe: String) -> String {
    for prefix in ["syscalls:sys_enter_", "syscalls:sys_exit_"] where probe.hasPrefix(prefix) {
      return String(probe.dropFirst(prefix.count))
    }
    return probe
  }
}

/// `sonde trace execsnoop`: every exec, with its pid, comm before it and the file executed.
struct ExecsnoopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "execsnoop", abstract: "Print each exec: time, pid, comm, the file executed.")
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    var options = TraceOptions()
    options.probes = try parseProbes(["tracepoint:sched:sched_process_exec"])
    options.events = true
    try common.apply(to: &options, command: command)
    let json = common.json
    let renderer = TraceRenderer(json: true, countKey: .probe, top: 0)
    if !json { writeStdout("TIME(s)          PID      COMM             FILENAME\n") }
    let run = try runTracer(options, verb: "execsnoop") { tracer in
      tracer.onEvent = { e in
        if json { return writeStdout(renderer.event(e, only: nil)) }
        let file = e.fields.first { $0.name == "filename" }?.value.description ?? "?"
        let time = fixed(Double(e.timestamp) / 1e9, 6).padded(to: 16)
        let pid = String(e.pid).padded(to: 8)
        writeStdout(time + " " + pid + " " + e.comm.padded(to: 16) + " " + file + "\n")
      }
    }
    try finishTrace(run, verb: "execsnoop")
  }
}

/// `sonde trace opensnoop`: each open/openat with its path and result, paired per thread in user space.
struct OpensnoopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "opensnoop", abstract: "Print each open()/openat(): pid, comm, fd or error, path.")
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    var options = TraceOptions()
    options.probes = try parseProbes([
      "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat",
      "tracepoint:syscalls:sys_enter_open", "tracepoint:syscalls:sys_exit_open",
    ])
    options.events = true
    try common.apply(to: &options, command: command)
    let json = common.json
    let pending = Locked<[Int32: String]>([:])
    if !json { writeStdout("PID      COMM             FD   ERR  PATH\n") }
    let run = try runTracer(options, verb: "opensnoop") { tracer in
      tracer.onEvent = { e in
        if e.probe.contains("sys_enter_") {
          let path = e.fields.first { $0.name == "filename" }?.value.description ?? "?"
          pending.withLock { $0[e.tid] = path }
          return
        }
        guard let path = pending.withLock({ $0.removeValue(forKey: e.tid) }) else { return }
        var ret: Int64 = 0
        if case .signed(let v)? = e.fields.first(where: { $0.name == "ret" })?.value { ret = v }
        if json {
          var o = JSONObject()
          o.add("pid", e.pid)
          o.add("comm", e.comm)
          o.add("ret", ret)
          o.add("path", path)
          return writeStdout(o.text() + "\n")
        }
        let fd = ret >= 0 ? String(ret) : "-1"
        let err = ret < 0 ? String(-ret) : "0"
        writeStdout(
          String(e.pid).padded(to: 8) + " " + e.comm.padded(to: 16) + " " + fd.padded(to: 4) + " "
            + err.padded(to: 4) + " " + path + "\n")
      }
    }
    try finishTrace(run, verb: "opensnoop")
  }
}

/// `sonde trace funclatency PROBE`: a function's latency histogram (entry to return).
struct FunclatencyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "funclatency", abstract: "Histogram a function's latency: uprobe:, kprobe: or fentry: probe.")
  @Argument(help: "The function (uprobe:BINARY:SYMBOL, kprobe:FUNC, fentry:FUNC).")
  var probe: String
  @OptionGroup var histogram: HistogramOptions
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    var options = TraceOptions()
    options.probes = try functionProbes(probe)
    try histogram.apply(to: &options)
    try common.apply(to: &options, command: command)
    try runLatency(options, verb: "funclatency", json: common.json)
  }
}

/// `sonde trace runqlat`: run-queue latency, from a task's wake-up to its switch onto a CPU.
struct RunqlatCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "runqlat", abstract: "Histogram run-queue latency (sched_wakeup to sched_switch).")
  @OptionGroup var histogram: HistogramOptions
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    let probes = try pairedProbes(
      entries: ["tracepoint:sched:sched_wakeup", "tracepoint:sched:sched_wakeup_new"], by: ["pid"],
      exit: "tracepoint:sched:sched_switch", by: ["next_pid"])
    try runPairedLatency(probes, histogram, common, command: command, verb: "runqlat")
  }
}

/// `sonde trace biolatency`: block I/O latency, from a request's issue to its completion.
struct BiolatencyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "biolatency", abstract: "Histogram block I/O latency (block_rq_issue to block_rq_complete).")
  @OptionGroup var histogram: HistogramOptions
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    let probes = try pairedProbes(
      entries: ["tracepoint:block:block_rq_issue"], by: ["dev", "sector"], exit: "tracepoint:block:block_rq_complete",
      by: ["dev", "sector"])
    try runPairedLatency(probes, histogram, common, command: command, verb: "biolatency")
  }
}

/// `sonde trace offcputime`: time blocked off the CPU by stack, as folded stacks (the profiler's off-CPU
/// mode, which aggregates in the kernel).
struct OffcputimeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "offcputime", abstract: "Time blocked off the CPU by stack, as folded stacks (microseconds).")
  @Option(parsing: .unconditional, help: "Ignore blocks shorter than this many microseconds.")
  var minBlock: UInt64 = 1
  @OptionGroup var common: TraceCommonOptions
  @Argument(parsing: .postTerminator, help: "A command to run and trace (after --).")
  var command: [String] = []

  func run() throws {
    var options = ProfilerOptions()
    options.mode = .offCPU(minimumBlockMicroseconds: minBlock)
    options.duration = common.duration
    if let pid = common.pid {
      options.target = .processes(try parseIDs(pid, what: "pid"))
    } else if let cgroup = common.cgroup {
      options.target = .cgroup(cgroup)
    } else if !command.isEmpty {
      options.target = .command(command)
    }
    let profiler = BPFProfiler(options: options)
    profiler.onStart = { samplingStatus("sonde offcputime: tracing off-CPU time (Ctrl-C ends it)") }
    let run: ProfileRun
    do {
      run = try profiler.run(stop: TerminationSignals.stopToken())
    } catch {
      writeError("\(error)", verb: "offcputime")
      throw ExitCode.failure
    }
    writeStdout(FoldedExporter.render(run.resolved, useWeight: true))
    for line in ProfileSummary.lines(run) { samplingStatus("sonde offcputime: " + line) }
    if let code = run.commandExitCode, code != 0 { throw ExitCode(code) }
  }
}

/// Entry and exit tracepoints whose records, not the current thread, pair them (by these fields).
func pairedProbes(entries: [String], by entryFields: [String], exit: String, by exitFields: [String]) throws
  -> [TraceOptions.Probe]
{
  try parseProbes(entries).map { TraceOptions.Probe($0.spec, pairFields: entryFields) }
    + parseProbes([exit]).map { TraceOptions.Probe($0.spec, isExit: true, pairFields: exitFields) }
}

/// Runs a latency preset over `probes` with the verb's histogram and common flags.
func runPairedLatency(
  _ probes: [TraceOptions.Probe], _ histogram: HistogramOptions, _ common: TraceCommonOptions, command: [String],
  verb: String
) throws {
  var options = TraceOptions()
  options.probes = probes
  try histogram.apply(to: &options)
  try common.apply(to: &options, command: command)
  try runLatency(options, verb: verb, json: common.json)
}
