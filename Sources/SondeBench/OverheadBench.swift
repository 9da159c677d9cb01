import PerfEvents
import Profiles
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde bench overhead`'s engine: runs the reference workload alone, under the sampling floor and under
/// each profiler, interleaved over rounds, and measures what each one costs. It never prints; a host
/// follows progress through `onRun`.
///
/// One measurement: the profiler starts (its own process, as a user runs it), the benchmark waits until it
/// holds a perf event per CPU and then `settle` seconds more, then runs the workload for `duration`
/// seconds while reading the profiler's CPU time and BPF run statistics before and after. The profiler is
/// then interrupted (SIGINT, as Ctrl-C) and what it says it sampled and lost is read from its output. Its
/// start-up and its final output fall outside the window: the figures are its steady state.
public final class OverheadBench {
  public let options: OverheadOptions
  /// Called after each measurement with its index and the total.
  public var onRun: ((OverheadRun, Int, Int) -> Void)?
  /// Whether kernel.bpf_stats_enabled is on for this run (BPF programs' run counts can be read).
  private var statsEnabled = false

  public init(options: OverheadOptions) {
    self.options = options
  }

  /// Runs every measurement (until `stop` is stopped: the report then holds those done so far).
  public func run(stop: StopToken = StopToken()) throws(SondeError) -> OverheadReport {
    try validate()
    var skipped: [String: String] = [:]
    var configurations: [OverheadConfiguration] = []
    // `sonde agent` runs the sonde-agent executable beside sonde.
    let agent =
      options.sondeExecutable.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/") + "/sonde-agent"
    for configuration in options.configurations {
      if let tool = configuration.peerTool, (try? PausedChild.resolve(tool)) == nil {
        skipped[configuration.rawValue] = "\(tool) is not installed"
      } else if configuration == .sondeAgent && access(agent, X_OK) != 0 {
        skipped[configuration.rawValue] = "\(agent) is not built"
      } else {
        configurations.append(configuration)
      }
    }
    let scratch = try ScratchDirectory(under: options.scratchDirectory)
    defer { scratch.remove() }
    let stats = BPFStatsSwitch()
    defer { stats.restore() }
    statsEnabled = stats.enabled
    var warnings: [String] = []
    if !stats.enabled {
      warnings.append("kernel.bpf_stats_enabled could not be set: no in-kernel BPF run time")
    }
    let rateBefore = maximumSampleRate()

    var runs: [OverheadRun] = []
    let total = options.workloads.count * options.frequencies.count * options.rounds * configurations.count
    var index = 0
    measuring: for workload in options.workloads {
      for frequency in options.frequencies {
        for round in 1...options.rounds {
          // Each round starts at a different configuration, so none is always first after a pause.
          let shift = (round - 1) % max(1, configurations.count)
          for configuration in configurations[shift...] + configurations[..<shift] {
            if stop.isStopped { break measuring }
            index += 1
            let run = measure(
              configuration, workload: workload, frequency: frequency, round: round,
              files: scratch.path + "/\(index)")
            runs.append(run)
            onRun?(run, index, total)
            scratch.removeContents()
            // Nothing of this measurement (dirty pages, an exiting profiler's teardown) may run in the next.
            sync()
            usleep(300_000)
          }
        }
      }
    }
    if let before = rateBefore, let after = maximumSampleRate(), after < before {
      warnings.append(
        "the kernel lowered kernel.perf_event_max_sample_rate from \(before) to \(after) during the run "
          + "(samples took too long): rates above it were sampled at it")
    }
    return OverheadReport(
      machine: Self.machineDescription(),
      options: .init(
        frequencies: options.frequencies, rounds: options.rounds, duration: options.duration,
        settle: options.settle, workloads: options.workloads),
      runs: runs, rows: OverheadStatistics.rows(runs), skipped: skipped, warnings: warnings)
  }

  private func validate() throws(SondeError) {
    guard options.rounds >= 1 else { throw .invalid("bench overhead --rounds", "at least one round") }
    guard options.duration > 0 && options.duration <= 3600 else {
      throw .invalid("bench overhead --duration", "a number of seconds above 0 and at most an hour")
    }
    guard !options.frequencies.isEmpty, options.frequencies.allSatisfy({ $0 > 0 }) else {
      throw .invalid("bench overhead --freq", "give one or more frequencies of at least 1 Hz")
    }
    if let max = maximumSampleRate(), let high = options.frequencies.max(), high > max {
      throw SondeError(
        .invalidInput, operation: "bench overhead --freq \(high)",
        reason: "above kernel.perf_event_max_sample_rate (\(max) Hz)", remedy: "raise the sysctl or lower --freq")
    }
    for path in [options.sondeExecutable, options.workloadExecutable] where access(path, X_OK) != 0 {
      throw SondeError(
        .invalidInput, operation: "bench overhead", errno: errno, reason: "\(path) is not an executable file",
        remedy: "build it (swift build -c release) or give --workload PATH")
    }
  }

  /// One measurement; failures are recorded in the run, not thrown, so one bad run does not end the bench.
  private func measure(
    _ configuration: OverheadConfiguration, workload: BenchWorkload, frequency: UInt64, round: Int, files: String
  ) -> OverheadRun {
    var run = OverheadRun(
      workload: workload, frequency: frequency, configuration: configuration, round: round, units: 0,
      workloadSeconds: 0, windowSeconds: 0)
    do throws(SondeError) {
      var profiler: Subprocess?
      var floor: SamplingFloor?
      defer { floor?.close() }
      switch configuration {
      case .baseline: break
      case .floor: floor = try SamplingFloor(frequency: frequency)
      default:
        let launched = try ProfilerCommand.launch(
          configuration, frequency: frequency, sonde: options.sondeExecutable, files: files)
        profiler = launched
        try waitUntilSampling(launched, bpfStats: statsEnabled)
      }
      if configuration != .baseline { usleep(UInt32(options.settle * 1e6)) }

      let cpuBefore = profiler.map { ProcessProbe.cpuNanoseconds($0.pid) }
      let bpfBefore = profiler.map { ProcessProbe.bpfProgramStats($0.pid) } ?? floor?.runStats()
      let stealBefore = ProcessProbe.stealSeconds()
      let start = monotonicSeconds()
      let (units, seconds) = try runWorkload(workload, files: files)
      run.windowSeconds = monotonicSeconds() - start
      run.stealSeconds = max(0, ProcessProbe.stealSeconds() - stealBefore)
      run.cpus = CPUList.online().count
      run.units = units
      run.workloadSeconds = seconds
      if let profiler {
        guard profiler.isRunning else {
          throw SondeError(.system, operation: "bench: \(configuration.rawValue)", reason: exitMessage(profiler))
        }
        run.profilerCPUNanoseconds = ProcessProbe.cpuNanoseconds(profiler.pid).saturatingSubtracting(cpuBefore ?? 0)
        run.peakResidentBytes = ProcessProbe.peakResidentBytes(profiler.pid)
      }
      let bpfAfter = profiler.map { ProcessProbe.bpfProgramStats($0.pid) } ?? floor?.runStats()
      if let bpfBefore, let bpfAfter, bpfAfter.programs > 0, bpfAfter.runCount > 0 {
        run.bpf = bpfAfter.since(bpfBefore)
      }
      if let floor {
        run.samples = try floor.sampleCount()
        run.lost = 0
      }
      if let profiler {
        profiler.interrupt(grace: 120)
        try ProfilerCommand.collect(configuration, profiler, files: files, into: &run)
      }
    } catch {
      run.failure = error.description
    }
    return run
  }

  /// Waits until the profiler holds a perf event on every online CPU and, for a BPF profiler (when
  /// `bpfStats` counts runs), until its programs have run: on a loaded machine attaching can lag the events,
  /// and a window measured before it would find no samples. Fails when the profiler exits first or takes
  /// over a minute.
  private func waitUntilSampling(_ profiler: Subprocess, bpfStats: Bool) throws(SondeError) {
    let cpus = CPUList.online().count
    let deadline = monotonicSeconds() + 60
    func ready() -> Bool {
      guard ProcessProbe.perfEventCount(profiler.pid) >= cpus else { return false }
      guard bpfStats else { return true }
      let stats = ProcessProbe.bpfProgramStats(profiler.pid)
      return stats.programs == 0 || stats.runCount > 0
    }
    while !ready() {
      guard profiler.isRunning else {
        throw SondeError(.system, operation: "bench: start \(profiler.arguments[0])", reason: exitMessage(profiler))
      }
      guard monotonicSeconds() < deadline else {
        throw SondeError(
          .system, operation: "bench: start \(profiler.arguments[0])",
          reason: "no perf event per CPU after 60 s")
      }
      usleep(20_000)
    }
  }

  /// Runs the workload for the duration; its work units and its own seconds.
  private func runWorkload(_ workload: BenchWorkload, files: String) throws(SondeError) -> (UInt64, Double) {
    let milliseconds = Int((options.duration * 1000).rounded())
    let child = try Subprocess(
      [options.workloadExecutable, "bench-\(workload.rawValue)", String(milliseconds)], stdout: files + ".work",
      stderr: files + ".work.err")
    guard child.waitUntil(deadline: monotonicSeconds() + options.duration + 60), child.exitStatus == 0 else {
      child.signal(SIGKILL)
      throw SondeError(.system, operation: "bench: workload", reason: exitMessage(child))
    }
    var units: UInt64?
    var seconds: Double?
    for line in child.output.split(separator: "\n") {
      let parts = line.split(separator: " ")
      guard parts.count == 2 else { continue }
      if parts[0] == "units" { units = UInt64(parts[1]) }
      if parts[0] == "seconds" { seconds = Double(parts[1]) }
    }
    guard let units, let seconds, seconds > 0 else {
      throw SondeError(.corruptData, operation: "bench: workload", reason: "no 'units N' and 'seconds S' in its output")
    }
    return (units, seconds)
  }

  private func exitMessage(_ process: Subprocess) -> String {
    let tail = process.errorOutput.split(separator: "\n").suffix(3).joined(separator: " / ")
    let status = process.exitStatus.map { "exited (status \($0))" } ?? "did not finish"
    return tail.isEmpty ? status : "\(status): \(tail)"
  }

  private func maximumSampleRate() -> UInt64? {
    readSmallFile("/proc/sys/kernel/perf_event_max_sample_rate").flatMap { UInt64($0.trimmingWhitespace()) }
  }

  static func machineDescription() -> String {
    let kernel = readSmallFile("/proc/sys/kernel/osrelease")?.trimmingWhitespace() ?? "?"
    let model =
      (readSmallFile("/proc/cpuinfo") ?? "").split(separator: "\n")
      .first { $0.hasPrefix("model name") }
      .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingWhitespace() } ?? "?"
    return "\(CPUList.online().count) CPUs (\(model)), Linux \(kernel)"
  }
}
