import ArgumentParser
import SondeBPFEngines

/// `sonde trace latency ENTRY EXIT` / `--func PROBE`: per-thread intervals histogrammed in the kernel.
struct TraceLatencyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "latency",
    abstract: "Histogram the time from an entry probe to an exit probe, per thread, in the kernel.",
    discussion: """
      Examples:
        sonde trace latency tracepoint:syscalls:sys_enter_read tracepoint:syscalls:sys_exit_read --unit us
        sonde trace latency --func uprobe:/usr/bin/app:handle_request --unit ms --by comm
      """)

  @Argument(help: "ENTRY and EXIT probes (or use --func), then optionally -- COMMAND.")
  var words: [String] = []
  var probes: [String] { splitCommand(words).own }
  @Option(help: "Time one function: its entry and its return (uprobe:/kprobe:/fentry: probe).")
  var `func`: String?
  @OptionGroup var histogram: HistogramOptions
  @OptionGroup var common: TraceCommonOptions

  /// The command after `--`.
  var command: [String] { splitCommand(words).command }

  func validate() throws {
    if `func` == nil && probes.count != 2 { throw ValidationError("give ENTRY and EXIT probes, or --func PROBE") }
    if `func` != nil && !probes.isEmpty { throw ValidationError("give --func or ENTRY EXIT, not both") }
  }

  func run() throws {
    var options = TraceOptions()
    if let function = `func` {
      options.probes = try functionProbes(function)
    } else {
      options.probes = try parseProbes([probes[0]]) + parseProbes([probes[1]], isExit: true)
    }
    try histogram.apply(to: &options)
    try common.apply(to: &options, command: command)
    try runLatency(options, verb: "trace latency", json: common.json)
  }
}

/// The entry and return probes of one function.
func functionProbes(_ text: String) throws -> [TraceOptions.Probe] {
  let entry = try parseProbes([text])[0]
  let exit: ProbeSpec
  switch entry.spec {
  case .uprobe(let binary, let symbol, let offset, false):
    exit = .uprobe(binary: binary, symbol: symbol, offset: offset, isReturn: true)
  case .kprobe(let function, _, false): exit = .kprobe(function: function, offset: 0, isReturn: true)
  case .fentry(let function, false): exit = .fentry(function: function, isExit: true)
  default: throw ValidationError("--func takes a uprobe:, kprobe: or fentry: probe of a function's entry")
  }
  return [entry, TraceOptions.Probe(exit, isExit: true)]
}

/// The histogram flags of the latency verbs.
struct HistogramOptions: ParsableArguments {
  @Option(help: "Group histograms by none, probe, comm or pid.")
  var by: String = "none"
  @Option(help: "Unit of the buckets: ns, us, ms or s.")
  var unit: String = "us"
  @Option(help: "Linear buckets MIN,MAX,STEP (in the unit) instead of log2.")
  var linear: String?

  func validate() throws {
    if TraceOptions.LatencyGroup(rawValue: by) == nil { throw ValidationError("--by must be none, probe, comm or pid") }
    if TraceOptions.Unit(rawValue: unit) == nil { throw ValidationError("--unit must be ns, us, ms or s") }
    if let linear, parseLinear(linear) == nil {
      throw ValidationError("--linear is MIN,MAX,STEP with MIN < MAX, STEP > 0")
    }
  }

  func parseLinear(_ text: String) -> TraceOptions.Histogram.Linear? {
    let parts = text.split(separator: ",").compactMap { UInt64($0) }
    guard parts.count == 3, parts[0] < parts[1], parts[2] > 0 else { return nil }
    return .init(low: parts[0], high: parts[1], step: parts[2])
  }

  func apply(to options: inout TraceOptions) throws {
    options.latency = TraceOptions.LatencyGroup(rawValue: by) ?? TraceOptions.LatencyGroup.nothing
    options.histogram = .init(
      unit: TraceOptions.Unit(rawValue: unit) ?? .microseconds, linear: linear.flatMap(parseLinear))
  }
}

/// Runs a latency trace and prints its histograms (every interval, or at the end).
func runLatency(_ options: TraceOptions, verb: String, json: Bool) throws {
  let renderer = TraceRenderer(json: json, countKey: .probe, top: 0)
  let run = try runTracer(options, verb: verb) { tracer in
    tracer.onInterval = { snapshot in writeStdout(renderer.histograms(snapshot)) }
  }
  if options.interval == nil { writeStdout(renderer.histograms(run.total)) }
  try finishTrace(run, verb: verb)
}
