import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Waits on many rings at once with epoll: a ring becomes readable when the kernel crosses its
/// wakeup_events or wakeup_watermark threshold, and hangs up when its (per-thread) target exits.
public final class RingPoller: @unchecked Sendable {
  public let rings: [SampleRing]
  private var epollFD: Int32
  /// Rings whose fd reported EPOLLHUP (their task is gone); they still hold records to drain.
  public private(set) var hungUp: Set<Int> = []

  public init(rings: [SampleRing]) throws(SondeError) {
    self.rings = rings
    epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard epollFD >= 0 else { throw SondeError.system("epoll_create1") }
    for (index, ring) in rings.enumerated() {
      var event = epoll_event()
      event.events = UInt32(EPOLLIN.rawValue) | UInt32(EPOLLHUP.rawValue)
      event.data.u64 = UInt64(index)
      if epoll_ctl(epollFD, EPOLL_CTL_ADD, ring.event.rawValue, &event) != 0 {
        let e = errno
        Glibc.close(epollFD)
        throw SondeError.system("epoll_ctl(ADD, \(ring.event.label))", errno: e)
      }
    }
  }

  deinit { close() }

  public func close() {
    if epollFD >= 0 {
      Glibc.close(epollFD)
      epollFD = -1
    }
  }

  /// Waits up to `timeoutMilliseconds` (-1 forever) and returns the indices of rings with data.
  /// EINTR returns an empty list so callers can check their stop flag.
  public func wait(timeoutMilliseconds: Int32) throws(SondeError) -> [Int] {
    var events = [epoll_event](repeating: epoll_event(), count: max(1, rings.count))
    let n = events.withUnsafeMutableBufferPointer {
      epoll_wait(epollFD, $0.baseAddress, Int32($0.count), timeoutMilliseconds)
    }
    if n < 0 {
      if errno == EINTR { return [] }
      throw SondeError.system("epoll_wait")
    }
    var ready: [Int] = []
    for i in 0..<Int(n) {
      let index = Int(events[i].data.u64)
      if events[i].events & UInt32(EPOLLHUP.rawValue) != 0 { hungUp.insert(index) }
      ready.append(index)
    }
    return ready
  }

  /// Whether every ring has hung up (all monitored tasks exited).
  public var allHungUp: Bool { !rings.isEmpty && hungUp.count == rings.count }

  /// An async stream of copied records from all rings, driven by epoll on a dedicated thread, until
  /// `stop` returns true or every ring hangs up. Each element is one record's bytes.
  public func records(pollMilliseconds: Int32 = 100, stop: @escaping @Sendable () -> Bool)
    -> AsyncThrowingStream<[UInt8], Error>
  {
    AsyncThrowingStream { continuation in
      // epoll_wait blocks for at most pollMilliseconds, so a detached task is an acceptable host.
      Task.detached { [self] in
        do {
          while true {
            let finished = stop() || allHungUp
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
    }
  }
}
