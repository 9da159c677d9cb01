import PerfEvents

/// CPU lists in the kernel's "0-3,8,10-11" syntax (sysfs online/possible, perf -C).
enum CPUList {
  static func parse(_ text: String) -> [Int32]? {
    var out: [Int32] = []
    for part in text.trimmingWhitespace().split(separator: ",") {
      let bounds = part.split(separator: "-")
      guard let lo = Int32(bounds[0]) else { return nil }
      if bounds.count == 2 {
        guard let hi = Int32(bounds[1]), hi >= lo else { return nil }
        out.append(contentsOf: lo...hi)
      } else if bounds.count == 1 {
        out.append(lo)
      } else {
        return nil
      }
    }
    return out
  }

  /// Online CPUs (per-CPU events can only be opened on online CPUs).
  static var online: [Int32] {
    readSmallFile("/sys/devices/system/cpu/online").flatMap(parse) ?? [0]
  }
}
