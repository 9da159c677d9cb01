import SondeSystem

/// A JIT symbol map, `/tmp/perf-PID.map`: lines of `START SIZE name` (hex, no 0x) written by runtimes
/// such as the JVM, V8 and LuaJIT so that profilers can name code in anonymous memory.
public struct PerfMap: Sendable {
  public struct Entry: Sendable, Hashable {
    public var start: UInt64
    public var size: UInt64
    public var name: String
  }

  /// Entries sorted by start address.
  public let entries: [Entry]

  public init(parsing text: String) {
    var result: [Entry] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
      guard fields.count == 3 else { continue }
      func hex(_ s: Substring) -> UInt64? { UInt64(s.hasPrefix("0x") ? s.dropFirst(2) : s, radix: 16) }
      guard let start = hex(fields[0]), let size = hex(fields[1]) else { continue }
      result.append(Entry(start: start, size: size, name: fields[2].trimmingWhitespace()))
    }
    entries = result.sorted { $0.start < $1.start }
  }

  /// Loads the map of `pid`, trying the process's own `/tmp` through `/proc/PID/root` first (containers).
  public static func load(pid: Int32) -> PerfMap? {
    for path in ["/proc/\(pid)/root/tmp/perf-\(pid).map", "/tmp/perf-\(pid).map"] {
      if let text = readSmallFile(path) { return PerfMap(parsing: text) }
    }
    return nil
  }

  /// The entry containing `address` (later entries win, as JITs append re-compiled code).
  public func lookup(_ address: UInt64) -> Entry? {
    let low = entries.countOfElements(keyedAtMost: address) { $0.start }
    var index = low - 1
    while index >= 0 && index >= low - 8 {
      let entry = entries[index]
      if address >= entry.start && address - entry.start < entry.size { return entry }
      index -= 1
    }
    return nil
  }
}
