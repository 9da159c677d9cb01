import SondeSystem
/// A performance monitoring unit the kernel exposes in sysfs (`/sys/bus/event_source/devices/NAME`):
/// its dynamic `type` number, the bit layout of its `config` words (`format/`), and named events (`events/`).
public struct PMU: Sendable, Hashable {
  /// Where the kernel lists PMUs.
  public static let devicesPath = "/sys/bus/event_source/devices"

  public let name: String
  /// The value for `perf_event_attr.type`.
  public let type: UInt32
  /// Format fields: name → where its bits go (`event` → config:0-7).
  public let formats: [String: FormatField]
  /// Event aliases: name → terms (`tsc` → `event=0x00`).
  public let events: [String: String]
  /// CPUs the PMU counts on (`cpumask`), when it is a per-package/uncore PMU.
  public let cpumask: [Int32]?

  /// Loads one PMU from sysfs, or nil if it does not exist.
  public static func named(_ name: String, root: String = devicesPath) -> PMU? {
    let dir = "\(root)/\(name)"
    guard let typeText = readSmallFile("\(dir)/type"), let type = UInt32(typeText.trimmingWhitespace()) else {
      return nil
    }
    var formats: [String: FormatField] = [:]
    for field in listDirectory("\(dir)/format") {
      if let text = readSmallFile("\(dir)/format/\(field)"), let parsed = FormatField(parsing: text) {
        formats[field] = parsed
      }
    }
    var events: [String: String] = [:]
    for event in listDirectory("\(dir)/events") where !event.contains(".") {
      if let text = readSmallFile("\(dir)/events/\(event)") { events[event] = text.trimmingWhitespace() }
    }
    let cpumask = readSmallFile("\(dir)/cpumask").flatMap { try? CPUList.parse($0.trimmingWhitespace()) }
    return PMU(name: name, type: type, formats: formats, events: events, cpumask: cpumask)
  }

  /// Every PMU on this machine, by name.
  public static func all(root: String = devicesPath) -> [PMU] {
    listDirectory(root).compactMap { named($0, root: root) }
  }

  /// Where a format field's value goes: which config word and which bit ranges (low to high).
  public struct FormatField: Sendable, Hashable {
    public enum Word: Sendable, Hashable { case config, config1, config2, config3 }
    public let word: Word
    /// Inclusive bit ranges, filled from the value's least significant bits upwards.
    public let ranges: [ClosedRange<Int>]

    /// Parses sysfs text like `config:0-7,21` or `config1:0-63`.
    public init?(parsing text: String) {
      let parts = text.trimmingWhitespace().split(separator: ":", maxSplits: 1)
      guard parts.count == 2 else { return nil }
      switch parts[0] {
      case "config": word = .config
      case "config1": word = .config1
      case "config2": word = .config2
      case "config3": word = .config3
      default: return nil
      }
      var ranges: [ClosedRange<Int>] = []
      for piece in parts[1].split(separator: ",") {
        let bounds = piece.split(separator: "-").compactMap { Int($0) }
        guard let low = bounds.first, bounds.count <= 2, let high = bounds.last, low <= high, high < 64 else {
          return nil
        }
        ranges.append(low...high)
      }
      guard !ranges.isEmpty else { return nil }
      self.ranges = ranges
    }

    /// The total number of bits the field holds.
    public var width: Int { ranges.reduce(0) { $0 + $1.count } }

    /// Scatters `value` into the field's bits of `word`. Throws if the value does not fit.
    public func insert(_ value: UInt64, into target: inout UInt64, field: String) throws(SondeError) {
      if width < 64 && value >> UInt64(width) != 0 {
        throw .invalid("set PMU field '\(field)'", "value \(value) does not fit in \(width) bits")
      }
      var remaining = value
      for range in ranges {
        let count = range.count
        let mask: UInt64 = count == 64 ? ~0 : (1 << UInt64(count)) - 1
        target &= ~(mask << UInt64(range.lowerBound))
        target |= (remaining & mask) << UInt64(range.lowerBound)
        remaining = count == 64 ? 0 : remaining >> UInt64(count)
      }
    }
  }
}

/// CPU list syntax used by sysfs and `-C` (`0-3,8,10-11`).
public enum CPUList {
  /// Parses a CPU list; throws on malformed input.
  public static func parse(_ text: String) throws(SondeError) -> [Int32] {
    var cpus: [Int32] = []
    for piece in text.trimmingWhitespace().split(separator: ",") {
      let bounds = piece.split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(bounds.count), let low = Int32(bounds[0]), let high = Int32(bounds[bounds.count - 1]),
        low >= 0, low <= high
      else {
        throw .invalid("parse CPU list '\(text)'", "expected numbers and ranges like 0-3,8")
      }
      // No kernel has this many CPUs (NR_CPUS tops out at 8192); a range past it is a typo, not a list.
      guard high < 65536 else {
        throw .invalid("parse CPU list '\(text)'", "CPU \(high) is beyond any kernel's CPU numbers")
      }
      cpus.append(contentsOf: low...high)
    }
    guard !cpus.isEmpty else { throw .invalid("parse CPU list '\(text)'", "the CPU list is empty") }
    return Array(Set(cpus)).sorted()
  }

  /// CPUs currently online (`/sys/devices/system/cpu/online`): per-CPU events go on these only.
  public static func online() -> [Int32] {
    readSmallFile("/sys/devices/system/cpu/online").flatMap { try? parse($0.trimmingWhitespace()) } ?? [0]
  }

  /// CPUs that may ever exist (`/sys/devices/system/cpu/possible`): per-CPU BPF values are sized by these.
  public static func possible() -> [Int32] {
    readSmallFile("/sys/devices/system/cpu/possible").flatMap { try? parse($0.trimmingWhitespace()) } ?? online()
  }
}
