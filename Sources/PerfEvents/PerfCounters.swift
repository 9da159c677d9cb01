import SondeSystem
/// The library's front door for counting: events for the calling thread around a closure.
///
/// ```swift
/// let counts = try PerfCounters("task-clock,page-faults").measure { work() }
/// print(counts["page-faults"]?.scaledValue ?? 0)
/// ```
public struct PerfCounters: Sendable {
  public let groups: [EventGroup]

  /// Parses perf event syntax (`"task-clock,{cycles,instructions}:u"`).
  public init(_ events: String) throws(SondeError) {
    self.groups = try EventParser().parse(events)
  }

  public init(groups: [EventGroup]) {
    self.groups = groups
  }

  /// The counts of one measurement, by event.
  public struct Counts: Sendable {
    public let events: [EventSpec]
    public let status: [CounterStatus]
    public let readings: [CounterReading?]

    /// The reading of the first event with this name (`nil` if not supported or not counted).
    public subscript(name: String) -> CounterReading? {
      events.firstIndex { $0.name == name }.flatMap { readings[$0] }
    }
  }

  /// Counts the calling thread (and threads it starts) while `body` runs.
  public func measure<R>(_ body: () throws -> R) throws -> (result: R, counts: Counts) {
    let set = try CounterSet(groups: groups, targets: [.currentThread], options: CountingOptions(inherit: true))
    defer { set.close() }
    try set.reset()
    try set.enable()
    let result = try body()
    try set.disable()
    return (result, Counts(events: set.events, status: set.status, readings: try set.read()))
  }

  /// Counts the calling thread while `body` runs, returning only the counts.
  public func measure(_ body: () throws -> Void) throws -> Counts {
    try measure(body).counts
  }
}
