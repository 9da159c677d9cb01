import Profiles

/// What an agent's samples measure. A data directory holds one kind: its values are sample counts (CPU)
/// or nanoseconds blocked (off-CPU), which do not add up together.
public enum ProfileKind: String, Sendable {
  case cpu
  case offCPU = "off-cpu"

  /// Pyroscope's application name (`sonde.cpu`, `sonde.off_cpu`).
  public var applicationName: String { self == .cpu ? "sonde.cpu" : "sonde.off_cpu" }
  /// What one unit of a stored value is, as the UI and JSON name it.
  public var unit: String { self == .cpu ? "samples" : "nanoseconds" }
}

/// A function as the agent keeps it: its symbolized name, the binary it is in (file name), and whether it
/// is a kernel function.
public struct AgentFunction: Sendable, Hashable, Codable {
  public var name: String
  public var module: String
  public var isKernel: Bool

  public init(name: String, module: String, isKernel: Bool) {
    self.name = name
    self.module = module
    self.isKernel = isKernel
  }

  /// The frame as folded stacks and the UI show it (kernel functions end in "_[k]", as perf's scripts).
  public var displayName: String { isKernel ? name + "_[k]" : name }
}

/// Samples of one process (its labels) in one stack (interned function ids, root first), as the store and
/// the live slices hold them.
public struct AgentSampleKey: Sendable, Hashable {
  public var series: Int64
  public var stack: Int64
}

/// One stretch of time's samples in interned form: what the profiler drained between `start` and `end`
/// (one drain, a "slice"), or a stored window (several slices merged).
public struct AgentSlice: Sendable {
  /// CLOCK_REALTIME nanoseconds since the epoch.
  public var start: Int64
  public var end: Int64
  public var counts: [AgentSampleKey: UInt64] = [:]
  /// Samples the kernel took in this stretch, and those it lost or dropped (by reason).
  public var samples: UInt64 = 0
  public var lost: [String: UInt64] = [:]

  public var sampleCount: UInt64 { counts.values.reduce(0) { $0.saturatingAdd($1) } }
  /// Samples lost or dropped, all reasons together.
  public var lostCount: UInt64 { lost.values.reduce(0) { $0.saturatingAdd($1) } }

  /// Adds `other`'s samples (a later slice) to this one, which then ends where `other` ends.
  public mutating func merge(_ other: AgentSlice) {
    for (key, n) in other.counts { counts[key, default: 0] = counts[key, default: 0].saturatingAdd(n) }
    samples = samples.saturatingAdd(other.samples)
    for (reason, n) in other.lost { lost[reason, default: 0] = lost[reason, default: 0].saturatingAdd(n) }
    end = max(end, other.end)
  }
}

/// Samples resolved for output: each (process, stack) with its count, stacks root first. What queries of
/// the store and of the live slices return, and what the exporters (pprof, the UI's JSON) read.
public struct AgentProfile: Sendable {
  public struct Entry: Sendable {
    public var labels: ProcessLabels
    public var frames: [AgentFunction]
    public var count: UInt64
  }
  public var from: Int64
  public var to: Int64
  public var entries: [Entry] = []
  /// Sampling frequency, for pprof's period.
  public var frequency: UInt64
  /// What the counts are: samples, or nanoseconds off-CPU.
  public var kind: ProfileKind = .cpu

  public var sampleCount: UInt64 { entries.reduce(0) { $0.saturatingAdd($1.count) } }
}
