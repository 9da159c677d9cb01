import PerfEvents
import Profiles

/// One count of `sonde trace count`: a probe, whose hits, what they were keyed by, how many.
public struct TraceCount: Sendable, Hashable {
  /// The probe's label (`syscalls:sys_enter_getpid`).
  public var probe: String
  /// The process (--by pid, comm with the stack keys) or thread (--by tid); 0 when not keyed by it.
  public var pid: Int32
  public var comm: String
  /// argN or retval (--by argN/retval).
  public var value: Int64?
  /// The stack's frames, leaf first (--by stack/kstack); a lost stack is `[lost stack: REASON]`.
  public var stack: [String]?
  public var count: UInt64
}

/// One latency histogram: its group (a probe, a comm, a process, or everything) and its buckets.
public struct LatencyHistogram: Sendable, Hashable {
  /// What the histogram is of: the entry probe's label, a comm, `pid COMM`, or empty (everything).
  public var group: String
  public var unit: TraceOptions.Unit
  public var linear: TraceOptions.Histogram.Linear?
  /// Counts by bucket index (log2: 0 holds 0, k holds [2^(k-1), 2^k) units; linear: 0 is below MIN,
  /// 1… are [MIN + (i-1)·STEP, MIN + i·STEP), the last one at or above MAX).
  public var buckets: [Int: UInt64]
  /// Intervals measured and their summed nanoseconds (exact, not from the buckets).
  public var count: UInt64
  public var totalNanoseconds: UInt64

  /// The mean interval, in the histogram's unit.
  public var mean: Double {
    count == 0 ? 0 : Double(totalNanoseconds) / Double(count) / Double(unit.nanoseconds)
  }

  /// The bucket's range in units: [lower, upper) (upper nil: unbounded).
  public func range(ofBucket index: Int) -> (lower: UInt64, upper: UInt64?) {
    if let linear {
      if index == 0 { return (0, linear.low) }
      let lower = linear.low &+ UInt64(index - 1) &* linear.step
      if lower >= linear.high { return (linear.high, nil) }
      return (lower, min(lower &+ linear.step, linear.high))
    }
    if index == 0 { return (0, 1) }
    if index >= 64 { return (1 << 63, nil) }
    return (1 << UInt64(index - 1), 1 << UInt64(index))
  }

  /// The bucket holding the `fraction` quantile (0.5: the median): the histogram knows it no finer.
  public func quantileBucket(_ fraction: Double) -> Int {
    let total = buckets.values.reduce(0, +)
    let rank = max(1, UInt64((fraction * Double(total)).rounded(.up)))
    var seen: UInt64 = 0
    for index in buckets.keys.sorted() {
      seen += buckets[index]!
      if seen >= rank { return index }
    }
    return buckets.keys.max() ?? 0
  }
}

/// One hit of `sonde trace events`.
public struct TraceEvent: Sendable {
  /// CLOCK_MONOTONIC nanoseconds.
  public var timestamp: UInt64
  public var cpu: UInt32
  public var pid: Int32
  public var tid: Int32
  public var comm: String
  public var probe: String
  /// A tracepoint's fields decoded by name and type, in record order (common_* left out); a uprobe's,
  /// kprobe's or fentry's `arg0`…`arg5` and, for returns, `retval`.
  public var fields: [(name: String, value: TracepointFormat.Value)]
}

/// What the tracer counted besides its results: hits, and everything it could not keep.
public struct TraceAccounting: Sendable, Hashable {
  /// Hits that passed the filters.
  public var hits: UInt64 = 0
  /// Count keys or histogram buckets that found their map full (those hits are not in the results).
  public var mapFull: UInt64 = 0
  /// Events the ringbuf had no room for.
  public var eventsDropped: UInt64 = 0
  /// Stacks bpf_get_stackid could not store (a full or colliding stack map, an unreadable stack).
  public var stacksLost: UInt64 = 0
  /// Exits without an entry (the thread entered before tracing began).
  public var exitsWithoutEntry: UInt64 = 0
  /// Entries not recorded because the starts map was full.
  public var entriesDropped: UInt64 = 0

  /// Lines saying what was lost (empty when nothing was).
  public var lossLines: [String] {
    var lines: [String] = []
    if mapFull > 0 { lines.append("\(mapFull) hits not counted: the counts map was full (raise --map-entries)") }
    if eventsDropped > 0 { lines.append("\(eventsDropped) events dropped: the ringbuf was full") }
    if stacksLost > 0 { lines.append("\(stacksLost) stacks lost (stack map full or colliding, or unreadable)") }
    if entriesDropped > 0 { lines.append("\(entriesDropped) entries not timed: too many threads inside at once") }
    return lines
  }
}

/// What one interval (or the whole run) gathered.
public struct TraceSnapshot: Sendable {
  /// Sorted by count, highest first.
  public var counts: [TraceCount] = []
  /// Sorted by group.
  public var histograms: [LatencyHistogram] = []
  public var accounting = TraceAccounting()
  /// Seconds since tracing began.
  public var elapsedSeconds: Double = 0
}

/// What a trace run produced.
public struct TraceRun: Sendable {
  /// Everything since the start (the counts and histograms of every interval together).
  public var total: TraceSnapshot
  /// The probes attached, in probe-index order.
  public var probes: [String]
  public var commandExitCode: Int32?
  /// Whether the run ended at the stop token (Ctrl-C).
  public var interrupted = false
}
