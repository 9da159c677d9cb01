import PerfEvents

/// What `sonde stat` should count, where, and how often to report.
public struct StatRequest: Sendable {
  /// Which tasks or CPUs to count.
  public enum Scope: Sendable, Hashable {
    /// The command's process and its children (needs `command`).
    case command
    /// Every thread of existing processes.
    case processes([Int32])
    /// Specific threads.
    case threads([Int32])
    /// Every task on these CPUs (`-a` is all online CPUs).
    case cpus([Int32], allOnline: Bool)
  }

  public var groups: [EventGroup]
  public var scope: Scope
  /// The command to run (always with `.command`; optional with `.cpus`, where it bounds the measurement).
  public var command: [String]?
  /// Print deltas every interval (`-I`), in milliseconds.
  public var intervalMilliseconds: Int?
  /// Run the command this many times (`-r`).
  public var repeats: Int = 1
  /// Count children created after the counters open (perf's default; `--no-inherit` turns it off).
  public var inherit = true
  /// Stop after this many seconds when there is no command to wait for.
  public var durationSeconds: Double?

  public init(groups: [EventGroup], scope: Scope, command: [String]? = nil) {
    self.groups = groups
    self.scope = scope
    self.command = command
  }

  /// perf stat's default events: the software clock for the scope, scheduling and fault counts, and the
  /// basic hardware events (reported `<not supported>` on machines without a PMU).
  public static func defaultEvents(systemWide: Bool) -> [EventGroup] {
    let names = [
      systemWide ? "cpu-clock" : "task-clock", "context-switches", "cpu-migrations", "page-faults",
      "cycles", "instructions", "branches", "branch-misses",
    ]
    return names.compactMap { try? EventParser().parse($0) }.flatMap { $0 }
  }
}

/// One event's result: the spec, whether it could be counted, and its (summed) reading.
public struct StatCount: Sendable, Hashable {
  public var event: EventSpec
  public var status: CounterStatus
  /// nil when not supported; a reading with `running == 0` is `<not counted>`.
  public var reading: CounterReading?
  /// Relative standard deviation of the mean over repeats, in percent (`-r`), when there were several runs.
  public var variancePercent: Double?
  /// The kernel refused kernel-mode counting to this user, so the event counted user space only (`:u`).
  public var userSpaceOnly = false
}

/// One `-I` report: time since start and each event's delta over the interval.
public struct StatInterval: Sendable {
  public var timestamp: Double
  public var counts: [StatCount]
}

/// The final result of `sonde stat`.
public struct StatResult: Sendable {
  public var counts: [StatCount]
  /// Wall-clock seconds counted (mean over repeats).
  public var elapsedSeconds: Double
  /// Relative standard deviation of the elapsed time over repeats, in percent.
  public var elapsedVariancePercent: Double?
  public var userSeconds: Double?
  public var systemSeconds: Double?
  /// The command's exit code (last run), to propagate.
  public var exitCode: Int32?
  /// How many runs were completed.
  public var runs: Int
  /// True when Ctrl-C ended the measurement early.
  public var interrupted: Bool
}
