import CSonde
import SondeSystem

/// One reading of a counter: its value and how long it was enabled and actually running on the PMU.
///
/// When more events are requested than the PMU has counters, the kernel multiplexes them: each runs for
/// part of the time it is enabled. perf estimates the full count as `value × enabled / running`;
/// `running == 0` means the event never ran, which is "not counted", not zero.
public struct CounterReading: Sendable, Hashable {
  public var value: UInt64
  /// Nanoseconds the event was enabled (PERF_FORMAT_TOTAL_TIME_ENABLED).
  public var enabled: UInt64
  /// Nanoseconds the event was on the PMU (PERF_FORMAT_TOTAL_TIME_RUNNING).
  public var running: UInt64

  public init(value: UInt64, enabled: UInt64, running: UInt64) {
    self.value = value
    self.enabled = enabled
    self.running = running
  }

  public static let zero = CounterReading(value: 0, enabled: 0, running: 0)

  /// The multiplexing-corrected value, or nil when the event never ran (`<not counted>`).
  public var scaledValue: Double? {
    guard running > 0 else { return nil }
    if running >= enabled { return Double(value) }
    return Double(value) * Double(enabled) / Double(running)
  }

  /// Percentage of the enabled time the event was running (100 without multiplexing).
  public var percentRunning: Double {
    guard enabled > 0 else { return running > 0 ? 100 : 0 }
    return Swift.min(100, Double(running) * 100 / Double(enabled))
  }

  /// The change since an earlier reading of the same counter: interval mode scales deltas of all three
  /// fields, never a delta of scaled values. Saturates at zero rather than wrapping.
  public func delta(since earlier: CounterReading) -> CounterReading {
    CounterReading(
      value: value &- Swift.min(value, earlier.value),
      enabled: enabled &- Swift.min(enabled, earlier.enabled),
      running: running &- Swift.min(running, earlier.running))
  }

  /// The sum of two readings of the same event on different CPUs or threads (perf's global aggregation:
  /// values and times are summed, then scaled once).
  public static func + (a: CounterReading, b: CounterReading) -> CounterReading {
    CounterReading(value: a.value &+ b.value, enabled: a.enabled &+ b.enabled, running: a.running &+ b.running)
  }
}

/// The `read_format` bits Sonde asks for, and the parser for what read(2) returns with them.
public struct ReadFormat: OptionSet, Sendable, Hashable {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  public static let totalTimeEnabled = ReadFormat(rawValue: UInt64(PERF_FORMAT_TOTAL_TIME_ENABLED.rawValue))
  public static let totalTimeRunning = ReadFormat(rawValue: UInt64(PERF_FORMAT_TOTAL_TIME_RUNNING.rawValue))
  public static let id = ReadFormat(rawValue: UInt64(PERF_FORMAT_ID.rawValue))
  public static let group = ReadFormat(rawValue: UInt64(PERF_FORMAT_GROUP.rawValue))
  public static let lost = ReadFormat(rawValue: UInt64(PERF_FORMAT_LOST.rawValue))

  /// One counter's value within a read: value, optional id and lost count.
  public struct Entry: Sendable, Hashable {
    public var value: UInt64
    public var id: UInt64?
    public var lost: UInt64?
  }

  /// A parsed read: the shared times and one entry per counter (one entry without `.group`).
  public struct Values: Sendable, Hashable {
    public var timeEnabled: UInt64?
    public var timeRunning: UInt64?
    public var entries: [Entry]

    /// The reading of entry `index` with the shared times.
    public func reading(_ index: Int) -> CounterReading {
      CounterReading(value: entries[index].value, enabled: timeEnabled ?? 0, running: timeRunning ?? 0)
    }
  }

  /// The byte size of a read for `members` counters.
  public func size(members: Int) -> Int {
    let perEntry = 1 + (contains(.id) ? 1 : 0) + (contains(.lost) ? 1 : 0)
    let times = (contains(.totalTimeEnabled) ? 1 : 0) + (contains(.totalTimeRunning) ? 1 : 0)
    return 8 * (contains(.group) ? 1 + times + members * perEntry : times + perEntry)
  }

  /// Parses read(2) bytes (or a sample's PERF_SAMPLE_READ field) in this format.
  /// Returns the values and the number of bytes consumed.
  public func parse(_ bytes: UnsafeRawBufferPointer) throws(SondeError) -> (Values, Int) {
    var words = WordReader(bytes)
    let operation = "parse read_format"
    func next() throws(SondeError) -> UInt64 {
      guard let w = words.next() else {
        throw SondeError(.corruptData, operation: operation, reason: "read is truncated")
      }
      return w
    }
    var values = Values(timeEnabled: nil, timeRunning: nil, entries: [])
    if contains(.group) {
      let count = try next()
      guard count <= 4096 else {
        throw SondeError(.corruptData, operation: operation, reason: "group of \(count) counters is implausible")
      }
      if contains(.totalTimeEnabled) { values.timeEnabled = try next() }
      if contains(.totalTimeRunning) { values.timeRunning = try next() }
      for _ in 0..<count {
        var entry = Entry(value: try next())
        if contains(.id) { entry.id = try next() }
        if contains(.lost) { entry.lost = try next() }
        values.entries.append(entry)
      }
    } else {
      var entry = Entry(value: try next())
      if contains(.totalTimeEnabled) { values.timeEnabled = try next() }
      if contains(.totalTimeRunning) { values.timeRunning = try next() }
      if contains(.id) { entry.id = try next() }
      if contains(.lost) { entry.lost = try next() }
      values.entries.append(entry)
    }
    return (values, words.offset)
  }
}

extension ReadFormat.Entry {
  init(value: UInt64) { self.init(value: value, id: nil, lost: nil) }
}

/// Reads native-endian u64 words from a byte buffer without alignment assumptions.
struct WordReader {
  let bytes: UnsafeRawBufferPointer
  var offset = 0

  init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  mutating func next() -> UInt64? {
    guard offset + 8 <= bytes.count else { return nil }
    defer { offset += 8 }
    return bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
  }
}
