#if canImport(Glibc)
  import Glibc
#endif

/// The one host for blocking waits: a dedicated OS thread running a poll loop (epoll_wait on perf rings,
/// libbpf's ring and perf buffers, child-exit pidfds) until its `StopToken` is stopped, so blocking calls
/// never occupy Swift's cooperative thread pool and several engines can wait side by side in one process.
public final class BlockingThread: @unchecked Sendable {
  /// Stopped by `stop()`/`requestStop()`; the loop watches it (and may poll its `waitDescriptor`).
  public let token: StopToken
  private var thread: pthread_t?
  private let body: @Sendable (BlockingThread) -> Void

  /// Starts `body`, which should loop while `isStopped` is false and return soon after it turns true.
  public init(token: StopToken = StopToken(), _ body: @escaping @Sendable (BlockingThread) -> Void) {
    self.token = token
    self.body = body
    let context = Unmanaged.passRetained(self).toOpaque()
    var handle = pthread_t()
    let rc = pthread_create(
      &handle, nil,
      { raw in
        guard let raw else { return nil }
        let me = Unmanaged<BlockingThread>.fromOpaque(raw).takeRetainedValue()
        me.body(me)
        return nil
      }, context)
    if rc == 0 {
      thread = handle
    } else {
      Unmanaged<BlockingThread>.fromOpaque(context).release()
    }
  }

  public var isStopped: Bool { token.isStopped }

  /// Asks the loop to stop without waiting (safe from any thread, including the loop's own).
  public func requestStop() { token.stop() }

  /// Asks the loop to stop and waits for the thread to finish.
  public func stop() {
    requestStop()
    if let thread, pthread_equal(thread, pthread_self()) == 0 {
      pthread_join(thread, nil)
    }
    thread = nil
  }
}
