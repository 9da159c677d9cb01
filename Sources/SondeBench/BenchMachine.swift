import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// kernel.bpf_stats_enabled turned on for the benchmark (the kernel then keeps each BPF program's run time
/// and count) and put back as it was. Costs two clock reads per program run, for every BPF configuration
/// alike, floor included.
final class BPFStatsSwitch {
  private static let path = "/proc/sys/kernel/bpf_stats_enabled"
  private let previous: String?
  /// Whether stats are on (they were, or the switch turned them on).
  let enabled: Bool

  init() {
    previous = readSmallFile(Self.path)?.trimmingWhitespace()
    if previous == "1" {
      enabled = true
    } else {
      enabled = previous != nil && Self.write("1")
    }
  }

  deinit { restore() }

  /// Writes the previous value back (once).
  func restore() {
    if let previous, previous != "1", enabled, readSmallFile(Self.path)?.trimmingWhitespace() == "1" {
      _ = Self.write(previous)
    }
  }

  private static func write(_ value: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array((value + "\n").utf8)
    return Glibc.write(fd, bytes, bytes.count) == bytes.count
  }
}

/// A directory the benchmark creates for the profilers' files, emptied after each measurement and removed
/// at the end. Only what the benchmark put there is removed.
final class ScratchDirectory {
  let path: String

  init(under parent: String) throws(SondeError) {
    var template = Array("\(parent)/sonde-bench.XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
      throw SondeError(
        .system, operation: "bench: create a directory under \(parent)", errno: errno, reason: errnoDescription(errno))
    }
    path = String(cString: made)
  }

  /// Removes the files of the last measurement (regular files only; the directory holds nothing else).
  func removeContents() {
    for name in listDirectory(path) { unlink(path + "/" + name) }
  }

  func remove() {
    removeContents()
    rmdir(path)
  }
}
