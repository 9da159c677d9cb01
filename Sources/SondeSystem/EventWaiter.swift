import CSonde

#if canImport(Glibc)
  import Glibc
#endif

/// An epoll set: the blocking wait every engine uses (perf rings, pidfds of children, libbpf buffers'
/// epoll descriptors), with the engine's `StopToken` always in the set so a stop wakes the wait at once.
public final class EventWaiter: @unchecked Sendable {
  /// What one wait saw.
  public struct Ready: Sendable, Hashable {
    /// The caller's token for the descriptor.
    public var token: UInt64
    /// The descriptor hung up (its task exited, its peer closed).
    public var hungUp: Bool
  }

  private let epoll: FileDescriptor
  private let stop: StopToken?
  private var count = 0
  private static let stopToken = UInt64.max

  /// An empty set; with `stop`, `wait` returns as soon as it is stopped.
  public init(stop: StopToken? = nil) throws(SondeError) {
    epoll = FileDescriptor(owning: try Syscall.call("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
    self.stop = stop
    if let stop { try add(stop.waitDescriptor, token: Self.stopToken, label: "stop token") }
  }

  /// Watches `fd` for input (and hang-up), reported with `token`.
  public func add(_ fd: Int32, token: UInt64, label: @autoclosure () -> String) throws(SondeError) {
    var event = epoll_event()
    event.events = UInt32(EPOLLIN.rawValue) | UInt32(EPOLLHUP.rawValue)
    event.data.u64 = token
    _ = try Syscall.call("epoll_ctl(ADD, \(label()))") { epoll_ctl(epoll.rawValue, EPOLL_CTL_ADD, fd, &event) }
    count += 1
  }

  /// Whether the stop token (if any) is stopped.
  public var isStopped: Bool { stop?.isStopped ?? false }

  /// Waits up to `timeoutSeconds` (nil: forever; saturating past Int32.max ms) for any descriptor. Returns the
  /// ready ones (never the stop token: check `isStopped`). EINTR returns an empty list.
  public func wait(timeoutSeconds: Double?) throws(SondeError) -> [Ready] {
    let ms: Int32 =
      timeoutSeconds.map { t in
        t.isFinite ? Int32(clamping: Int64(Swift.min(Swift.max((t * 1000).rounded(.up), 0), 2e9))) : -1
      } ?? -1
    var events = [epoll_event](repeating: epoll_event(), count: Swift.max(1, count))
    let n = events.withUnsafeMutableBufferPointer { epoll_wait(epoll.rawValue, $0.baseAddress, Int32($0.count), ms) }
    if n < 0 {
      let code = errno
      if code == EINTR { return [] }
      throw SondeError.system("epoll_wait", errno: code)
    }
    return events.prefix(Int(n)).compactMap { e in
      e.data.u64 == Self.stopToken ? nil : Ready(token: e.data.u64, hungUp: e.events & UInt32(EPOLLHUP.rawValue) != 0)
    }
  }
}
