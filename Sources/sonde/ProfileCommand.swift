import ArgumentParser
import CSonde
import Profiles
import SondeBPFEngines
import SondeCore
import SondeSystem
import SondeText

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde profile`: the eBPF CPU profiler. Samples on a per-CPU clock, aggregates stacks in the kernel,
/// drains them on an interval and writes a top-N table, folded stacks or a flame graph.
struct ProfileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "profile",
    abstract: "Profile CPU time with a BPF program that aggregates stacks in the kernel.",
    discussion: """
      Examples:
        sonde profile --duration 10 --flamegraph cpu.svg         (every process, 99 Hz)
        sonde profile -p 1234 --duration 30 --folded -o app.folded
        sonde profile -F 499 -- ./workload args
        sonde profile --cgroup system.slice/nginx.service --duration 60
      """)

  @Option(name: [.customShort("F"), .customLong("freq")], parsing: .unconditional, help: "Samples per second per CPU.")
  var frequency: UInt64 = 99
  @Flag(name: [.short, .customLong("all-cpus")], help: "Every process on every online CPU (the default).")
  var allCPUs = false
  @Option(name: [.short, .customLong("pid")], help: "Existing processes and their children: PID[,PID].")
  var pid: String?
  @Option(help: "The tasks of this cgroup v2 directory (absolute, or under /sys/fs/cgroup).")
  var cgroup: String?
  @Option(parsing: .unconditional, help: "Stop after this many seconds (default: until Ctrl-C or the command exits).")
  var duration: Double?
  @Option(parsing: .unconditional, help: "Seconds between drains of the kernel's aggregates.")
  var interval: Double = 5
  @Flag(help: "Profile time blocked off the CPU (sched_switch until the thread runs again), weighted by time.")
  var offCPU = false
  @Option(parsing: .unconditional, help: "With --off-cpu: ignore blocks shorter than this many microseconds.")
  var minBlock: UInt64 = 1
  @Flag(help: .hidden) var switchTracepoint = false
  @Flag(help: "User-space stacks only.")
  var userOnly = false
  @Flag(help: "Kernel stacks only.")
  var kernelOnly = false
  @Option(
    help:
      "How samples reach Sonde: maps (aggregated in the kernel), ringbuf (one BPF record per sample), perf (the perf ring)."
  )
  var transport: String = "maps"
  @Option(
    help:
      "How user stacks are walked: fp (frame pointers), dwarf (each binary's .eh_frame; walked in the kernel, or in user space with --transport perf), auto (dwarf where the kernel can)."
  )
  var unwind: String = "fp"
  @Option(parsing: .unconditional, help: "Distinct stacks each of the two stack maps holds.")
  var stackMapSize: UInt32 = 8192
  @Option(parsing: .unconditional, help: "Distinct (process, stacks, comm) keys each of the two counts maps holds.")
  var mapSize: UInt32 = 16384
  @Option(parsing: .unconditional, help: "Bytes of the ringbuf transport's buffer (a power of two, at least 4096).")
  var ringbufSize: UInt32 = 16 << 20
  @Flag(help: "Write folded stacks (comm;frame;…;leaf count) to stdout, or to -o.")
  var folded = false
  @Option(name: [.customShort("o"), .customLong("output")], help: "File for --folded output.")
  var output: String?
  @Option(help: "Write an interactive flame graph SVG to this file.")
  var flamegraph: String?
  @Option(help: "Write a speedscope JSON file (one profile per process).")
  var speedscope: String?
  @Option(help: "Write a gzipped pprof profile (FILE.pb.gz) for pprof, Parca, Pyroscope or Grafana.")
  var pprof: String?
  @Option(help: "Write what the run counted about itself (samples, losses, bytes read, drains) as JSON to this file.")
  var accounting: String?
  @Option(parsing: .unconditional, help: "Rows of the top-N table.")
  var top: Int = 25
  @Argument(parsing: .captureForPassthrough, help: "The command to profile (after --).")
  var command: [String] = []

  func validate() throws {
    if userOnly && kernelOnly { throw ValidationError("give --user-only or --kernel-only, not both") }
    if frequency == 0 { throw ValidationError("-F must be at least 1 Hz") }
    if let duration, !(duration > 0 && duration <= 366 * 86400) {
      throw ValidationError("--duration must be a number of seconds above 0 and at most a year")
    }
    if !(interval > 0 && interval <= 86400) { throw ValidationError("--interval must be above 0 and at most a day") }
    if ProfilerOptions.Transport(rawValue: transport) == nil {
      let known = ProfilerOptions.Transport.allCases.map(\.rawValue).joined(separator: ", ")
      throw ValidationError("--transport must be one of: \(known)")
    }
    if ProfilerOptions.Unwind(rawValue: unwind) == nil {
      throw ValidationError("--unwind must be fp, dwarf or auto")
    }
    if offCPU && unwind != "fp" { throw ValidationError("--unwind applies to CPU profiles, not --off-cpu") }
    if stackMapSize == 0 || mapSize == 0 { throw ValidationError("map sizes must be at least 1") }
    if ringbufSize < 4096 || ringbufSize.nonzeroBitCount != 1 {
      throw ValidationError("--ringbuf-size must be a power of two of at least 4096 bytes")
    }
    if output != nil && !folded { throw ValidationError("-o writes --folded output: add --folded") }
    if let flamegraph, flamegraph.isEmpty { throw ValidationError("--flamegraph needs a file name") }
    if let speedscope, speedscope.isEmpty { throw ValidationError("--speedscope needs a file name") }
    if let pprof, pprof.isEmpty { throw ValidationError("--pprof needs a file name") }
    if let accounting, accounting.isEmpty { throw ValidationError("--accounting needs a file name") }
    if top < 0 { throw ValidationError("--top must be 0 or more") }
    let targets = [pid != nil, cgroup != nil, !argv.isEmpty].filter { $0 }.count
    if targets > 1 { throw ValidationError("give one target: -p, --cgroup or a command") }
    if allCPUs && targets > 0 { throw ValidationError("-a profiles every process: give -a or a target, not both") }
    if let pid { _ = try parseIDs(pid, what: "pid") }
  }

  /// The command after `--`.
  var argv: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

  func run() throws {
    if argv == ["--help"] || argv == ["-h"] { throw CleanExit.helpRequest(self) }
    var options = ProfilerOptions()
    options.frequency = frequency
    // Like perf record, a rate above the kernel's limit is lowered to it with a warning, not refused.
    if !offCPU, let max = BPFProfiler.maximumSampleRate(), frequency > max {
      samplingStatus(
        "sonde profile: warning: -F \(frequency) is above kernel.perf_event_max_sample_rate; sampling at \(max) Hz")
      options.frequency = max
    }
    options.duration = duration
    options.interval = interval
    if offCPU { options.mode = .offCPU(minimumBlockMicroseconds: minBlock) }
    options.forceSwitchTracepoint = switchTracepoint
    options.stacks = userOnly ? .userOnly : kernelOnly ? .kernelOnly : .both
    options.transport = ProfilerOptions.Transport(rawValue: transport) ?? .maps
    options.stackMapEntries = stackMapSize
    options.countsMapEntries = mapSize
    options.ringbufBytes = ringbufSize
    options.unwind = ProfilerOptions.Unwind(rawValue: unwind) ?? .fp
    if let pid {
      options.target = .processes(try parseIDs(pid, what: "pid"))
    } else if let cgroup {
      options.target = .cgroup(cgroup)
    } else if !argv.isEmpty {
      options.target = .command(argv)
    }
    let profiler = BPFProfiler(options: options)
    let progress = isatty(2) == 1 && (duration ?? .infinity) > interval
    if progress {
      let start = monotonicSeconds()
      profiler.onDrain = { drain, accounting in
        let elapsed = Int(monotonicSeconds() - start)
        samplingStatus(
          "sonde profile: \(elapsed) s, \(accounting.drainedSamples) samples, this drain \(drain.samples) in \(drain.keys) keys"
        )
      }
    }
    let what =
      switch options.target {
      case .systemWide: "every process"
      case .processes(let pids): "pid \(pids.map(String.init).joined(separator: ","))"
      case .command(let argv): "'\(argv.joined(separator: " "))'"
      case .cgroup(let path): "cgroup \(path)"
      }
    let rate = options.frequency
    let how = offCPU ? "off-CPU time" : "at \(rate) Hz per CPU"
    profiler.onStart = { samplingStatus("sonde profile: sampling \(what) \(how) (Ctrl-C ends it)") }
    let stop = TerminationSignals.stopToken()
    let run: ProfileRun
    do {
      run = try profiler.run(stop: stop)
    } catch {
      writeError("\(error)", verb: "profile")
      throw ExitCode.failure
    }
    try write(run, frequency: options.frequency)
    for line in ProfileSummary.lines(run) { samplingStatus("sonde profile: " + line) }
    if let code = run.commandExitCode, code != 0 { throw ExitCode(code) }
  }

  private func write(_ run: ProfileRun, frequency: UInt64) throws {
    if folded {
      // Off-CPU stacks are weighted by nanoseconds blocked; CPU stacks count samples.
      let text = FoldedExporter.render(run.resolved, useWeight: offCPU)
      if let output { try writeWholeFile(output, text, verb: "profile") } else { writeStdout(text) }
    }
    // Every file says what was sampled and what was lost (the accounting lines).
    let summary = ProfileSummary.lines(run).joined(separator: "; ")
    if let flamegraph {
      let title =
        offCPU
        ? "Off-CPU time over \(fixed(run.durationSeconds, 1)) s"
        : "CPU profile at \(frequency) Hz over \(fixed(run.durationSeconds, 1)) s"
      var svg = FlameGraphSVG(title: title, subtitle: summary)
      svg.unit = offCPU ? "ns" : "samples"
      svg.useWeight = offCPU
      try writeWholeFile(flamegraph, svg.render(run.resolved), verb: "profile")
      samplingStatus("sonde profile: wrote \(flamegraph)")
    }
    if let speedscope {
      let text = SpeedscopeExporter.render(
        run.resolved, name: "sonde profile: " + summary, unit: offCPU ? .nanoseconds : .none, useWeight: offCPU)
      try writeWholeFile(speedscope, text, verb: "profile")
      samplingStatus("sonde profile: wrote \(speedscope)")
    }
    if let pprof {
      try writePprof(
        pprof, run.resolved, weightIsCount: !offCPU, startTime: run.startTimeNanoseconds,
        comments: ProfileSummary.lines(run), buildIDs: run.buildIDs, verb: "profile")
      samplingStatus("sonde profile: wrote \(pprof)")
    }
    if let accounting {
      try writeWholeFile(accounting, ProfileSummary.accountingJSON(run) + "\n", verb: "profile")
    }
    if !folded && flamegraph == nil && speedscope == nil && pprof == nil {
      writeStdout(ProfileSummary.topTable(run, rows: top))
    }
  }
}
