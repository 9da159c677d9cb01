import ArgumentParser
import PerfEvents
import SondeBench
import SondeSystem
import SondeText

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde bench`: measurements of Sonde against its peers on this machine.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure what profiling costs on this machine.",
    subcommands: [BenchOverheadCommand.self])
}

/// `sonde bench overhead`: perf-style against eBPF-style profiling, measured as throughput a reference
/// workload loses under each profiler, with each profiler's own CPU, BPF time, samples and bytes.
struct BenchOverheadCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "overhead",
    abstract: "Throughput a busy workload loses under each profiler, and what each profiler spends.",
    discussion: """
      Runs sonde-demo's bench workloads (one busy thread per CPU; 'flat' in one stack, 'tree' over 262144
      distinct stacks) alone, under the sampling floor (the same per-CPU cpu-clock events with a BPF program
      that only counts), under 'sonde profile' with each transport, 'sonde record -g', and, when installed,
      'perf record -g', 'perf record --call-graph dwarf' and bpftrace. Configurations are interleaved over
      the rounds. Needs root (CAP_PERFMON and CAP_BPF), and a quiet machine for figures worth keeping.

      Examples:
        sonde bench overhead --quick --json
        sonde bench overhead --freq 99,999,4999 --rounds 5 --plot overhead.svg
      """)

  @Option(name: .customLong("freq"), help: "Sampling frequencies, comma-separated (default 99,999,4999).")
  var frequencies: String?
  @Option(parsing: .unconditional, help: "Interleaved rounds of every configuration (default 5).")
  var rounds: Int?
  @Option(parsing: .unconditional, help: "Seconds the workload runs per measurement (default 5).")
  var duration: Double?
  @Option(parsing: .unconditional, help: "Seconds between a profiler attaching and the measurement (default 1).")
  var settle: Double?
  @Option(help: "Workloads, comma-separated: flat, tree.")
  var workload = "flat,tree"
  @Option(help: "Configurations, comma-separated (default: all; baseline and floor are always run).")
  var configurations: String?
  @Option(help: "The executable with the bench-flat/bench-tree modes (default: sonde-demo beside sonde).")
  var workloadBinary: String?
  @Flag(
    help:
      "One round at 999 Hz of 1.5 s windows (about a minute): a check, not figures. Options given with it still apply."
  )
  var quick = false
  @Flag(help: "Print the runs and the table as JSON.")
  var json = false
  @Option(help: "Write a bar chart (cost above the floor, profiler CPU) as SVG to this file.")
  var plot: String?

  func validate() throws {
    if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1") }
    if let duration, !(duration > 0 && duration <= 3600) {
      throw ValidationError("--duration must be above 0 and at most 3600")
    }
    if let settle, !(settle >= 0 && settle <= 60) { throw ValidationError("--settle must be 0 to 60 seconds") }
    _ = try parsedFrequencies()
    _ = try parsedWorkloads()
    _ = try parsedConfigurations()
    if let plot, plot.isEmpty { throw ValidationError("--plot needs a file name") }
  }

  func run() throws {
    // The sonde the profiler configurations run is this one; the workload is the demo installed beside it.
    let sonde = readLink("/proc/self/exe") ?? CommandLine.arguments[0]
    let directory = sonde.lastIndex(of: "/").map { String(sonde[..<$0]) } ?? "."
    var options = OverheadOptions(
      sondeExecutable: sonde, workloadExecutable: workloadBinary ?? directory + "/sonde-demo")
    if quick { options.makeQuick() }
    if let frequencies = try parsedFrequencies() { options.frequencies = frequencies }
    if let rounds { options.rounds = rounds }
    if let duration { options.duration = duration }
    if let settle { options.settle = settle }
    options.workloads = try parsedWorkloads()
    options.configurations = try parsedConfigurations()
    let bench = OverheadBench(options: options)
    bench.onRun = { run, index, total in
      samplingStatus("sonde bench: [\(index)/\(total)] " + BenchRenderer.progress(run))
    }
    let report = try reportingErrors(verb: "bench overhead") {
      try bench.run(stop: TerminationSignals.stopToken())
    }
    writeStdout(json ? BenchRenderer.json(report) + "\n" : BenchRenderer.tables(report))
    for warning in report.warnings { samplingStatus("sonde bench: warning: " + warning) }
    if let plot {
      try writeWholeFile(plot, OverheadChart.render(report), verb: "bench overhead")
      samplingStatus("sonde bench: wrote \(plot)")
    }
  }

  private func parsedFrequencies() throws -> [UInt64]? {
    guard let frequencies else { return nil }
    let values = frequencies.split(separator: ",").map { UInt64($0.trimmingWhitespace()) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
      throw ValidationError("--freq takes frequencies in Hz, e.g. 99,999,4999")
    }
    return values.compactMap { $0 }
  }

  private func parsedWorkloads() throws -> [BenchWorkload] {
    try workload.split(separator: ",").map { name in
      guard let w = BenchWorkload(rawValue: name.trimmingWhitespace()) else {
        throw ValidationError("--workload takes flat, tree")
      }
      return w
    }
  }

  private func parsedConfigurations() throws -> [OverheadConfiguration] {
    guard let configurations else { return OverheadConfiguration.allCases }
    var chosen: Set<OverheadConfiguration> = [.baseline, .floor]
    for name in configurations.split(separator: ",") {
      guard let c = OverheadConfiguration(rawValue: name.trimmingWhitespace()) else {
        let known = OverheadConfiguration.allCases.map(\.rawValue).joined(separator: ", ")
        throw ValidationError("--configurations takes: \(known)")
      }
      chosen.insert(c)
    }
    return OverheadConfiguration.allCases.filter(chosen.contains)
  }
}
