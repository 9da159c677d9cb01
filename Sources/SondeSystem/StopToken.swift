import CSonde
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// How every engine is told to stop — the one mechanism, the same in `stat`, `record`, the BPF readers
/// and the agent's engines: a flag plus an eventfd that becomes readable once stopped, so a blocking wait
/// (poll, epoll) that includes `waitDescriptor` wakes at once instead of at its next timeout.
///
/// Library code never installs signal handlers; the CLI turns SIGINT/SIGTERM into `stop()` (see
/// `StopToken.stopOnTerminationSignals()`), and a host running several engines gives each its own token,
/// so stopping one leaves the others running.
public final class StopToken: Sendable {
  private let stopped = Atomic<Bool>(false)
  private let event: Int32

  /// A token that has not been stopped.
  public init() {
    event = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
  }

  deinit { if event >= 0 { _ = Glibc.close(event) } }

  /// Asks everything that watches this token to stop. Safe from any thread; idempotent.
  public func stop() {
    stopped.store(true, ordering: .releasing)
    var one: UInt64 = 1
    _ = withUnsafeBytes(of: &one) { Glibc.write(event, $0.baseAddress, 8) }
  }

  /// Whether `stop()` was called (or the descriptor was signalled by a signal handler).
  public var isStopped: Bool {
    stopped.load(ordering: .acquiring) || signalled(waitingMilliseconds: 0)
  }

  /// Sleeps up to `seconds` (at most an hour), returning early when the token is stopped; returns whether it
  /// is. For loops that act now and then (a retry's backoff, periodic upkeep) and must end at once on stop.
  @discardableResult
  public func wait(seconds: Double) -> Bool {
    stopped.load(ordering: .acquiring) || signalled(waitingMilliseconds: Int32(max(0, min(seconds, 3600)) * 1000))
  }

  /// Whether the descriptor becomes readable within the time given.
  private func signalled(waitingMilliseconds: Int32) -> Bool {
    var poll = pollfd(fd: event, events: Int16(POLLIN), revents: 0)
    return Glibc.poll(&poll, 1, waitingMilliseconds) == 1
  }

  /// Readable once the token is stopped; add it to a poll or epoll set to wake on stop.
  public var waitDescriptor: Int32 { event }
}
