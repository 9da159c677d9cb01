import ArgumentParser
import CSonde
import PerfEvents
import Profiles
import SondeCore
import SondeText

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde record`: sample a command, processes, threads or the whole system into perf.data.
struct RecordCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "record",
    abstract: "Sample events into a perf.data file that perf and 'sonde report' read.",
    discussion: """
      Examples:
        sonde record -F 999 -g -- ./workload args
        sonde record -p 1234 --duration 5 -o app.data
        sonde record -a -e cpu-clock --call-graph dwarf,8192 --duration 2
      """)

  @Option(
    name: [.customShort("e"), .customLong("event")],
    help: ArgumentHelp("Events to sample (perf syntax, comma-separated or repeated).", valueName: "events"))
  var event: [String] = []
  // Numbers parse `.unconditional`ly so that `-F -5` is rejected as a bad number, not as a missing value.
  @Option(name: [.customShort("F"), .customLong("freq")], parsing: .unconditional, help: "Samples per second.")
  var frequency: UInt64?
  @Option(
    name: [.customShort("c"), .customLong("count")], parsing: .unconditional,
    help: "Sample every N events (overrides -F).")
  var period: UInt64?
  @Flag(name: .customShort("g"), help: "Record frame-pointer call chains.")
  var callchains = false
  @Option(name: .customLong("call-graph"), help: "fp | dwarf[,STACK_BYTES] (default 8192).")
  var callGraph: String?
  @OptionGroup var targets: TargetOptions
  @Option(
    name: [.customShort("o"), .customLong("output")],
    help: ArgumentHelp("Output file ('-' streams perf's pipe format to stdout).", valueName: "file"))
  var output = "perf.data"
  @Option(parsing: .unconditional, help: "Stop after this many seconds.")
  var duration: Double?
  @Option(
    name: [.customShort("m"), .customLong("mmap-pages")], parsing: .unconditional,
    help: "Data pages per ring (power of two; default 2 MiB per CPU, 32 MiB in all, at least 128 pages).")
  var mmapPages: Int?
  @Flag(help: "Flight recorder: keep only the newest samples in overwrite rings, write them at the end.")
  var overwrite = false
  @Argument(parsing: .captureForPassthrough, help: "The command to run (after --).")
  var command: [String] = []

  /// The longest --duration accepted: a year. Longer (or inf, nan) is a typo, not a plan.
  static let maximumDuration = 366.0 * 86400

  func validate() throws {
    if let frequency, frequency == 0 { throw ValidationError("-F must be at least 1 sample per second") }
    if let period, period == 0 { throw ValidationError("-c must be at least 1 event per sample") }
    if let duration, !(duration > 0 && duration <= Self.maximumDuration) {
      throw ValidationError("--duration must be a number of seconds above 0 and at most \(Int(Self.maximumDuration))")
    }
    if let mmapPages, !(mmapPages > 0 && mmapPages.nonzeroBitCount == 1 && mmapPages <= 1 << 20) {
      throw ValidationError("-m must be a power of two from 1 to 1048576 pages")
    }
    if output.isEmpty { throw ValidationError("-o needs a file name ('-' for standard output)") }
    try targets.validate(command: command, verb: "records")
    if let callGraph, callGraph.isEmpty { throw ValidationError("--call-graph must be fp or dwarf[,SIZE]") }
  }

  func run() throws {
    // First thing: from here on Ctrl-C (SIGINT) or SIGTERM ends the recording and still writes the file.
    // (Sonde.main has already unblocked them: a parent may have spawned us with them blocked.)
    let stop = TerminationSignals.stopToken()
    var options = RecordOptions()
    options.events = event  // each -e argument is parsed whole (groups and pmu/…,…/ terms contain commas)
    if options.events.isEmpty { options.events = ["cpu-clock"] }
    options.frequency = frequency ?? 4000
    options.period = period
    options.output = output
    options.duration = duration
    options.dataPages = mmapPages
    options.overwrite = overwrite
    options.commandLine = CommandLine.arguments
    if let cg = callGraph {
      let parts = cg.split(separator: ",")
      switch parts.first {
      case "fp": options.callGraph = .framePointer
      case "dwarf":
        let size = parts.count > 1 ? UInt32(parts[1]) : 8192
        guard parts.count <= 2, let size, size > 0, size % 8 == 0, size <= 65528 else {
          throw ValidationError("--call-graph dwarf,SIZE: SIZE must be a multiple of 8 from 8 to 65528")
        }
        options.callGraph = .dwarf(stackSize: size)
      default: throw ValidationError("--call-graph must be fp or dwarf[,SIZE]")
      }
    } else if callchains {
      options.callGraph = .framePointer
    }
    var argv = command
    // Passthrough capture also swallows a lone --help; answer it as help, not as a command to run.
    if argv == ["--help"] || argv == ["-h"] { throw CleanExit.helpRequest(self) }
    if argv.first == "--" { argv.removeFirst() }
    if let pids = try targets.processIDs() {
      options.target = .processes(pids)
    } else if let tids = try targets.threadIDs() {
      options.target = .threads(tids)
    } else if targets.isSystemWide {
      // perf's `-a -- CMD`: every task on the CPUs, for as long as the command runs.
      options.target = .systemWide
      if !argv.isEmpty { options.workload = argv }
    } else if !argv.isEmpty {
      options.target = .command(argv)
    } else if duration != nil {
      options.target = .systemWide
    } else {
      throw ValidationError("give a command after --, or -p PID, -t TID, -a (with --duration or Ctrl-C)")
    }
    options.cpus = try targets.cpuList()

    let result: RecordResult
    do {
      result = try Recorder(options: options).run(stop: stop)
    } catch {
      writeError("\(error)", verb: "record")
      throw ExitCode.failure
    }
    for name in result.userSpaceOnlyEvents {
      samplingStatus(
        "sonde record: warning: \(name) sampled user space only (as \(name):u): kernel samples need CAP_PERFMON or "
          + "kernel.perf_event_paranoid ≤ 1")
    }
    let megabytes = Double(result.bytesWritten) / 1_048_576
    samplingStatus(
      "[ sonde record: Captured and wrote \(fixed(megabytes, 3)) MB \(result.output) (\(result.samples) samples) ]"
    )
    samplingStatus(
      "[ sonde record: samples \(result.samples), lost \(result.lost), total \(UInt64(result.samples).saturatingAdd(result.lost))\(result.lostSamples > 0 ? ", lost_samples \(result.lostSamples)" : "")\(result.throttles > 0 ? ", throttled \(result.throttles)x" : "") ]"
    )
    if result.lost > 0 {
      samplingStatus("Warning: lost \(result.lost) samples (ring full); use a larger -m or a lower -F")
    }
    // The exit status is the command's, as perf's: its exit code, or 128 + N when signal N ended it
    // (Ctrl-C reaches the command too, so an interrupted command exits 130). A command Sonde itself stopped
    // at --duration, and recordings without a command, exit 0.
    if let code = result.commandExitCode, code != 0, !result.commandStoppedBySonde { throw ExitCode(code) }
  }

}
