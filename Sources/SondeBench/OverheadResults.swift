/// One measurement: one configuration, workload, frequency and round.
public struct OverheadRun: Sendable, Hashable {
  public var workload: BenchWorkload
  public var frequency: UInt64
  public var configuration: OverheadConfiguration
  public var round: Int
  /// Work units the workload finished, and the seconds it ran (its own clock).
  public var units: UInt64
  public var workloadSeconds: Double
  /// Seconds of the window the profiler figures cover (the workload's run, seen from outside).
  public var windowSeconds: Double
  /// Online CPUs, and CPU-seconds the hypervisor took from them in the window (/proc/stat steal).
  public var cpus = 1
  public var stealSeconds = 0.0
  /// Nanoseconds the profiler process spent on CPU in the window (nil without a profiler process).
  public var profilerCPUNanoseconds: UInt64?
  /// What the kernel ran of the configuration's BPF programs in the window (nil: none, or no bpf_stats).
  public var bpf: BPFRunStats?
  /// Samples the profiler took over its whole run, and samples it lost (nil: the tool does not say).
  public var samples: UInt64?
  public var lost: UInt64?
  /// Bytes that crossed from the kernel to the profiler: ring bytes consumed and map bytes read (Sonde's
  /// profiler), or the perf.data written (record; the ring bytes plus a small header).
  public var bytesFromKernel: UInt64?
  /// Samples per key the maps transport drained (in-kernel aggregation).
  public var aggregationRatio: Double?
  /// The profiler's peak resident memory at the end of the window.
  public var peakResidentBytes: UInt64?
  /// Why the run produced no figures, when it failed.
  public var failure: String?

  public init(
    workload: BenchWorkload, frequency: UInt64, configuration: OverheadConfiguration, round: Int, units: UInt64,
    workloadSeconds: Double, windowSeconds: Double
  ) {
    self.workload = workload
    self.frequency = frequency
    self.configuration = configuration
    self.round = round
    self.units = units
    self.workloadSeconds = workloadSeconds
    self.windowSeconds = windowSeconds
  }

  /// Work units per second had the hypervisor stolen nothing: units over the CPU-seconds the machine
  /// really had (its CPUs × the run's seconds − steal), times its CPUs. On a shared VM steal moves raw
  /// throughput by tens of percent from one run to the next; per available CPU-second it moves by about
  /// one. Everything inside the machine (interrupts, BPF programs, the profiler's own threads) still
  /// takes its share of that time.
  public var throughput: Double {
    let total = workloadSeconds * Double(cpus)
    let available = max(total - stealSeconds, total * 0.1)
    return available > 0 ? Double(units) / available * Double(cpus) : 0
  }

  /// Work units per wall-clock second, steal included.
  public var rawThroughput: Double { workloadSeconds > 0 ? Double(units) / workloadSeconds : 0 }

  /// Percent of the machine's CPU time the hypervisor stole in the window.
  public var stealPercent: Double {
    windowSeconds > 0 ? stealSeconds / (windowSeconds * Double(cpus)) * 100 : 0
  }
}

/// The smallest, median and largest of a figure over the rounds.
public struct Spread: Sendable, Hashable {
  public var median: Double
  public var min: Double
  public var max: Double

  /// nil for no values.
  public init?(_ values: [Double]) {
    let sorted = values.filter { $0.isFinite }.sorted()
    guard let first = sorted.first, let last = sorted.last else { return nil }
    let mid = sorted.count / 2
    median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    min = first
    max = last
  }

  public init(median: Double, min: Double, max: Double) {
    self.median = median
    self.min = min
    self.max = max
  }

  /// Half the distance from min to max: the ± a reader sees.
  public var halfRange: Double { (max - min) / 2 }
}

/// One row of the table: a configuration on a workload at a frequency, over its rounds.
public struct OverheadRow: Sendable, Hashable {
  public var workload: BenchWorkload
  public var frequency: UInt64
  public var configuration: OverheadConfiguration
  public var rounds: Int
  public var failedRounds: Int
  /// Work units per second, corrected for steal (`OverheadRun.throughput`).
  public var throughput: Spread?
  /// Percent of the machine's CPU time the hypervisor stole during the windows.
  public var stealPercent: Spread?
  /// Percent of the baseline's throughput lost, paired with the baseline of the same round.
  public var lossPercent: Spread?
  /// Loss minus the floor's loss of the same round, in percentage points: what the design adds.
  public var aboveFloorPoints: Spread?
  /// The profiler's own CPU in the window, percent of one core.
  public var profilerCPUPercent: Spread?
  /// In-kernel BPF time in the window, percent of one core, and nanoseconds per program run.
  public var bpfCPUPercent: Spread?
  public var bpfNanosecondsPerRun: Double?
  public var samples: Double?
  public var lost: Double?
  public var bytesFromKernel: Double?
  public var aggregationRatio: Double?
  public var peakResidentBytes: UInt64?
}

/// Everything a benchmark run measured, and what it could not run.
public struct OverheadReport: Sendable {
  public var machine: String
  public var options: Echo
  public var runs: [OverheadRun]
  public var rows: [OverheadRow]
  /// Configurations left out, with the reason (a peer tool not installed).
  public var skipped: [String: String]
  /// What the benchmark saw go wrong on the machine (the kernel lowering the sample rate).
  public var warnings: [String]

  /// The options, as the report records them.
  public struct Echo: Sendable {
    public var frequencies: [UInt64]
    public var rounds: Int
    public var duration: Double
    public var settle: Double
    public var workloads: [BenchWorkload]
  }
}
