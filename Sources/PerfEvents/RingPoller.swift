import SondeSystem

/// Waits on many rings at once (an `EventWaiter`): a ring becomes readable when the kernel crosses its
/// wakeup_events or wakeup_watermark threshold, and hangs up when its (per-thread) target exits. With a
/// `StopToken`, a stop wakes the wait at once.
public final class RingPoller: @unchecked Sendable {
  public let rings: [SampleRing]
  private let waiter: EventWaiter
  /// Rings whose fd reported EPOLLHUP (their task is gone); they still hold records to drain.
  public private(set) var hungUp: Set<Int> = []
  /// Whether a descriptor given to `wake(on:)` became readable (a pidfd: the process exited).
  public private(set) var woken = false
  /// Distinct from ring indices and from `EventWaiter`'s own stop token (UInt64.max).
  private static let wakeToken = UInt64.max - 1

  public init(rings: [SampleRing], stop: StopToken? = nil) throws(SondeError) {
    self.rings = rings
    waiter = try EventWaiter(stop: stop)
    for (index, ring) in rings.enumerated() {
      try waiter.add(ring.event.rawValue, token: UInt64(index), label: ring.event.label)
    }
  }

  /// Also ends waits when `fd` becomes readable, e.g. a pidfd when its process exits, so a recording of a
  /// command needs no timer to notice the command is done.
  public func wake(on fd: FileDescriptor, label: String) throws(SondeError) {
    try waiter.add(fd.rawValue, token: Self.wakeToken, label: label)
  }

  /// Whether the poller's stop token was stopped.
  public var isStopped: Bool { waiter.isStopped }

  /// Waits up to `timeoutMilliseconds` (-1 forever) and returns the indices of rings with data (empty on
  /// EINTR, a timeout, or a stop).
  public func wait(timeoutMilliseconds: Int32) throws(SondeError) -> [Int] {
    let ready = try waiter.wait(timeoutSeconds: timeoutMilliseconds < 0 ? nil : Double(timeoutMilliseconds) / 1000)
    return ready.compactMap { r in
      if r.token == Self.wakeToken {
        woken = true
        return nil
      }
      let index = Int(r.token)
      if r.hungUp { hungUp.insert(index) }
      return index
    }
  }

  /// Whether every ring has hung up (all monitored tasks exited).
  public var allHungUp: Bool { !rings.isEmpty && hungUp.count == rings.count }

  /// An async stream of copied records from all rings, driven by epoll on a `BlockingThread`, until `stop`
  /// is stopped or every ring hangs up. Each element is one record's bytes.
  public func records(pollMilliseconds: Int32 = 100, stop: StopToken) -> AsyncThrowingStream<[UInt8], Error> {
    AsyncThrowingStream { continuation in
      let thread = BlockingThread(token: stop) { [self] thread in
        do {
          while true {
            let finished = thread.isStopped || allHungUp
            let ready = finished ? Array(rings.indices) : try wait(timeoutMilliseconds: pollMilliseconds)
            for index in ready {
              rings[index].drain { continuation.yield([UInt8]($0)) }
            }
            if finished { break }
          }
          continuation.finish()
        } catch {
          continuation.finish(throwing: error)
        }
      }
      continuation.onTermination = { _ in thread.requestStop() }
    }
  }
}
