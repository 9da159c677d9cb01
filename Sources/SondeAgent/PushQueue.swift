import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Windows waiting to be pushed to the fleet backend, one pprof file each under `DATA/push/`, so nothing
/// is lost while the backend is down or the agent restarts. The queue is bounded: past `capacity` files the
/// oldest is dropped and counted. Files are written under a temporary name and renamed (in the agent's own
/// directory), so a crash leaves whole files only. Delivery is at least once: a crash between the backend's
/// answer and the file's removal sends that window again.
final class PushQueue: @unchecked Sendable {
  struct Item: Sendable {
    var path: String
    var start: Int64
    var end: Int64
  }

  let directory: String
  let capacity: Int
  private let state = Locked(State())
  private struct State {
    var dropped: UInt64 = 0
  }

  init(directory: String, capacity: Int) throws(SondeError) {
    self.directory = directory
    self.capacity = max(1, capacity)
    if mkdir(directory, 0o700) != 0 && errno != EEXIST {
      throw SondeError(.system, operation: "create \(directory)", errno: errno, reason: errnoDescription(errno))
    }
    // Leftovers of a write a crash interrupted.
    for name in listDirectory(directory) where name.contains(".tmp.") { unlink(directory + "/" + name) }
  }

  /// Windows dropped because the queue was full.
  var dropped: UInt64 { state.withLock { $0.dropped } }

  /// Queued windows, oldest first.
  func items() -> [Item] {
    listDirectory(directory).compactMap { name -> Item? in
      guard name.hasSuffix(".pb.gz") else { return nil }
      let parts = name.dropLast(6).split(separator: "-")
      guard parts.count == 2, let start = Int64(parts[0]), let end = Int64(parts[1]) else { return nil }
      return Item(path: directory + "/" + name, start: start, end: end)
    }.sorted { $0.start < $1.start }
  }

  /// Queues one window's pprof bytes; drops the oldest windows past the capacity.
  func enqueue(_ bytes: [UInt8], start: Int64, end: Int64) throws(SondeError) {
    try writeFileAtomically(directory + "/" + format19(start) + "-" + format19(end) + ".pb.gz", bytes)
    let queued = items()
    if queued.count > capacity {
      for item in queued.prefix(queued.count - capacity) where unlink(item.path) == 0 {
        state.withLock { $0.dropped += 1 }
      }
    }
  }

  /// The bytes of a queued window, read without following a symlink (the queue holds only files the agent
  /// wrote); nil when it is gone (delivered or dropped meanwhile) or is not a regular file.
  func contents(_ item: Item) -> [UInt8]? {
    readFileBytes(item.path, limit: 256 << 20, followingSymlinks: false)
  }

  /// Removes a delivered (or undeliverable) window.
  func remove(_ item: Item) { unlink(item.path) }

  /// Zero-padded so names sort by time.
  private func format19(_ value: Int64) -> String {
    let digits = String(max(0, value))
    return String(repeating: "0", count: max(0, 19 - digits.count)) + digits
  }
}
