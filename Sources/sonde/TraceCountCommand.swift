import ArgumentParser
import SondeBPFEngines

/// `sonde trace count PROBE… --by KEY`: hits counted in the kernel, printed sorted.
struct TraceCountCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "count",
    abstract: "Count probe hits in the kernel, by probe, comm, pid, tid, stack, kstack, argN or retval.",
    discussion: """
      Examples:
        sonde trace count 'tracepoint:syscalls:sys_enter_*' --by comm --duration 5
        sonde trace count uprobe:libc:malloc --by stack -p 1234
      """)

  @Argument(help: "Probes to count, then optionally -- COMMAND to run and trace.")
  var words: [String]
  var probes: [String] { splitCommand(words).own }
  @Option(help: "Key: probe, comm, pid, tid, stack, kstack, arg0…arg5, retval.")
  var by: String = "probe"
  @Option(parsing: .unconditional, help: "Rows printed (0: all).")
  var top: Int = 0
  @OptionGroup var common: TraceCommonOptions

  /// The command after `--`.
  var command: [String] { splitCommand(words).command }

  func validate() throws {
    if TraceOptions.CountKey.parse(by) == nil {
      throw ValidationError("--by must be probe, comm, pid, tid, stack, kstack, arg0…arg5 or retval")
    }
    if top < 0 { throw ValidationError("--top must be 0 or more") }
  }

  func run() throws {
    var options = TraceOptions()
    options.probes = try parseProbes(probes)
    options.count = TraceOptions.CountKey.parse(by)
    try common.apply(to: &options, command: command)
    let renderer = TraceRenderer(json: common.json, countKey: options.count ?? .probe, top: top)
    let run = try runTracer(options, verb: "trace count") { tracer in
      tracer.onInterval = { snapshot in writeStdout(renderer.counts(snapshot, final: false)) }
    }
    if options.interval == nil { writeStdout(renderer.counts(run.total, final: true)) }
    try finishTrace(run, verb: "trace count")
  }
}
