import ArgumentParser
import SondeBPFEngines

/// `sonde trace events PROBE…`: every hit through the BPF ringbuf, fields decoded by name.
struct TraceEventsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "events",
    abstract: "Print every probe hit with its decoded fields (through the BPF ringbuf).",
    discussion: """
      Examples:
        sonde trace events tracepoint:sched:sched_process_exec --json
        sonde trace events tracepoint:syscalls:sys_enter_openat --fields filename,flags
      """)

  @Argument(help: "Probes to stream, then optionally -- COMMAND to run and trace.")
  var words: [String]
  var probes: [String] { splitCommand(words).own }
  @Option(help: "Only these fields, comma-separated.")
  var fields: String?
  @OptionGroup var common: TraceCommonOptions

  /// The command after `--`.
  var command: [String] { splitCommand(words).command }

  func run() throws {
    var options = TraceOptions()
    options.probes = try parseProbes(probes)
    options.events = true
    try common.apply(to: &options, command: command)
    let renderer = TraceRenderer(json: common.json, countKey: .probe, top: 0)
    let only = fields.map { Set($0.split(separator: ",").map(String.init)) }
    let run = try runTracer(options, verb: "trace events") { tracer in
      tracer.onEvent = { event in writeStdout(renderer.event(event, only: only)) }
    }
    try finishTrace(run, verb: "trace events")
  }
}
