import ArgumentParser
import CSonde
import PerfEvents
import SondeCore

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
  @Option(name: [.customShort("F"), .customLong("freq")], help: "Samples per second.")
  var frequency: UInt64?
  @Option(name: [.customShort("c"), .customLong("count")], help: "Sample every N events (overrides -F).")
  var period: UInt64?
  @Flag(name: .customShort("g"), help: "Record frame-pointer call chains.")
  var callchains = false
  @Option(name: .customLong("call-graph"), help: "fp | dwarf[,STACK_BYTES] (default 8192).")
  var callGraph: String?
  @Option(name: [.short, .customLong("pid")], help: "Existing process ids (comma-separated).")
  var pid: String?
  @Option(name: [.short, .customLong("tid")], help: "Existing thread ids (comma-separated).")
  var tid: String?
  @Flag(name: [.short, .customLong("all-cpus")], help: "System-wide on all CPUs.")
  var all = false
  @Option(name: [.customShort("C"), .customLong("cpu")], help: "CPUs to sample (list like 0-1,3).")
  var cpu: String?
  @Option(
    name: [.customShort("o"), .customLong("output")],
    help: ArgumentHelp("Output file ('-' streams perf's pipe format to stdout).", valueName: "file"))
  var output = "perf.data"
  @Option(help: "Stop after this many seconds.")
  var duration: Double?
  @Option(name: [.customShort("m"), .customLong("mmap-pages")], help: "Data pages per ring (power of two).")
  var mmapPages = 128
  @Flag(help: "Flight recorder: keep only the newest samples in overwrite rings, write them at the end.")
  var overwrite = false
  @Argument(parsing: .captureForPassthrough, help: "The command to run (after --).")
  var command: [String] = []

  func run() throws {
    // First thing: from here on Ctrl-C (SIGINT) or SIGTERM ends the recording and still writes the file.
    sonde_install_interrupt_handler()
    sonde_clear_interrupt()
    // A parent may have spawned us with these blocked (the mask survives exec; libdispatch worker threads
    // block nearly everything), which would make Ctrl-C pend forever.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
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
        guard let size, size % 8 == 0, size <= 65528 else {
          throw ValidationError("--call-graph dwarf,SIZE: SIZE must be a multiple of 8 up to 65528")
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
    if let pid {
      options.target = .processes(try Self.ids(pid, "-p"))
    } else if let tid {
      options.target = .threads(try Self.ids(tid, "-t"))
    } else if !argv.isEmpty {
      options.target = .command(argv)
    } else if all || cpu != nil || duration != nil {
      options.target = .systemWide
    } else {
      throw ValidationError("give a command after --, or -p PID, -t TID, -a (with --duration or Ctrl-C)")
    }
    if let cpu {
      do {
        options.cpus = try CPUList.parse(cpu)
      } catch {
        writeError(error.description, verb: "record")
        throw ExitCode.failure
      }
    }

    let result: RecordResult
    do {
      result = try Recorder(options: options).run(shouldStop: { sonde_interrupted() != 0 })
    } catch {
      writeError("\(error)", verb: "record")
      throw ExitCode.failure
    }
    let megabytes = Double(result.bytesWritten) / 1_048_576
    samplingStatus(
      "[ sonde record: Captured and wrote \(samplingFixed(megabytes, 3)) MB \(result.output) (\(result.samples) samples) ]"
    )
    samplingStatus(
      "[ sonde record: samples \(result.samples), lost \(result.lost), total \(UInt64(result.samples) + result.lost)\(result.lostSamples > 0 ? ", lost_samples \(result.lostSamples)" : "")\(result.throttles > 0 ? ", throttled \(result.throttles)x" : "") ]"
    )
    if result.lost > 0 {
      samplingStatus("Warning: lost \(result.lost) samples (ring full); use a larger -m or a lower -F")
    }
  }

  static func ids(_ text: String, _ flag: String) throws -> [Int32] {
    let list = text.split(separator: ",").map { Int32($0) }
    guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0! > 0 }) else {
      throw ValidationError("\(flag): expected comma-separated ids, got '\(text)'")
    }
    return list.compactMap { $0 }
  }

}
