import ArgumentParser
import SondeBPFEngines
import SondeSystem

/// `sonde trace`: tracepoints, uprobes, USDT, kprobes and fentry/fexit from the command line, counted and
/// timed in the kernel or streamed as events. Each subcommand is a file (Trace…Command.swift).
struct TraceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trace",
    abstract: "Count, time or stream probe hits with BPF programs that aggregate in the kernel.",
    discussion: ProbeSpec.grammar,
    subcommands: [
      TraceCountCommand.self,
      TraceLatencyCommand.self,
      TraceEventsCommand.self,
      SyscountCommand.self,
      ExecsnoopCommand.self,
      OpensnoopCommand.self,
      FunclatencyCommand.self,
      RunqlatCommand.self,
      BiolatencyCommand.self,
      OffcputimeCommand.self,
    ])
}

/// The flags every `sonde trace` subcommand shares: who is traced, for how long, how results are printed.
struct TraceCommonOptions: ParsableArguments {
  @Option(name: [.short, .customLong("pid")], help: "Only these processes and their children: PID[,PID].")
  var pid: String?
  @Option(help: "Only tasks with this command name (checked in the kernel).")
  var comm: String?
  @Option(help: "Only tasks of this cgroup v2 directory (absolute, or under /sys/fs/cgroup).")
  var cgroup: String?
  @Option(parsing: .unconditional, help: "Stop after this many seconds (default: until Ctrl-C or the command exits).")
  var duration: Double?
  @Option(parsing: .unconditional, help: "Print (what came in) every this many seconds.")
  var interval: Double?
  @Flag(help: "JSON output (one object per interval or event, one per line).")
  var json = false
  @Option(parsing: .unconditional, help: "Distinct keys the counts and histogram maps hold.")
  var mapSize: UInt32 = 10240

  func validate() throws {
    if let duration, !(duration > 0 && duration <= 366 * 86400) {
      throw ValidationError("--duration must be a number of seconds above 0 and at most a year")
    }
    if let interval, !(interval > 0 && interval <= 86400) {
      throw ValidationError("--interval must be above 0 and at most a day")
    }
    if let pid { _ = try parseIDs(pid, what: "pid") }
    if mapSize == 0 { throw ValidationError("--map-size must be at least 1") }
  }

  /// The options these flags set (probes and modes are the subcommand's).
  func apply(to options: inout TraceOptions, command: [String]) throws {
    if pid != nil && !command.isEmpty { throw ValidationError("give -p or a command, not both") }
    options.comm = comm
    options.cgroup = cgroup
    options.duration = duration
    options.interval = interval
    options.mapEntries = mapSize
    if let pid {
      options.target = .processes(try parseIDs(pid, what: "pid"))
    } else if !command.isEmpty {
      options.target = .command(command)
    }
  }
}

/// Splits a verb's positional words into its own (before `--`) and the command to run (after it): the
/// argument parser hands both over as one array.
func splitCommand(_ words: [String]) -> (own: [String], command: [String]) {
  let all = CommandLine.arguments
  guard let dash = all.firstIndex(of: "--") else { return (words, []) }
  let n = min(all.count - dash - 1, words.count)
  return (Array(words.dropLast(n)), Array(words.suffix(n)))
}

/// Parses probe arguments, or exits with the grammar error.
func parseProbes(_ texts: [String], isExit: Bool = false) throws -> [TraceOptions.Probe] {
  try texts.map { text in
    let spec: ProbeSpec
    do {
      spec = try ProbeSpec.parse(text)
    } catch let error as SondeError {
      throw CLIError(error)
    }
    return TraceOptions.Probe(spec, isExit: isExit)
  }
}

/// Runs a tracer to its end with Ctrl-C stopping it (what was gathered is still returned), the
/// subcommand's callbacks installed by `configure`.
func runTracer(_ options: TraceOptions, verb: String, configure: (Tracer) -> Void = { _ in }) throws -> TraceRun {
  let tracer = Tracer(options: options)
  tracer.onStart = { probes in
    let shown = probes.count <= 3 ? probes.joined(separator: ", ") : "\(probes.count) probes"
    samplingStatus("sonde \(verb): tracing \(shown) (Ctrl-C ends it)")
  }
  configure(tracer)
  let stop = TerminationSignals.stopToken()
  do {
    return try tracer.run(stop: stop)
  } catch {
    writeError("\(error)", verb: verb)
    throw ExitCode.failure
  }
}

/// What every run prints last on stderr: what was lost, and the command's exit code passed on.
func finishTrace(_ run: TraceRun, verb: String) throws {
  for line in run.total.accounting.lossLines { samplingStatus("sonde \(verb): " + line) }
  if let code = run.commandExitCode, code != 0 { throw ExitCode(code) }
}
