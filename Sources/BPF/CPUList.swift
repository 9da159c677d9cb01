import PerfEvents

/// CPU sets from sysfs (`/sys/devices/system/cpu/{possible,online}`), e.g. "0-3,6".
///
/// Per-CPU map values are sized by *possible* CPUs; per-CPU perf events are opened on *online* CPUs.
public enum CPUList {
  /// Parses the kernel's CPU list syntax; nil if malformed.
  public static func parse(_ text: String) -> [Int32]? {
    var cpus: [Int32] = []
    for part in text.trimmingWhitespace().split(separator: ",") {
      let bounds = part.split(separator: "-", maxSplits: 1)
      guard let low = Int32(bounds[0]) else { return nil }
      let high = bounds.count == 2 ? Int32(bounds[1]) : low
      guard let high, high >= low else { return nil }
      cpus.append(contentsOf: low...high)
    }
    return cpus
  }

  /// The possible CPUs (fallback: CPU 0 only).
  public static var possible: [Int32] { read("/sys/devices/system/cpu/possible") }
  /// The online CPUs (fallback: CPU 0 only).
  public static var online: [Int32] { read("/sys/devices/system/cpu/online") }

  private static func read(_ path: String) -> [Int32] {
    readSmallFile(path).flatMap(parse) ?? [0]
  }
}
