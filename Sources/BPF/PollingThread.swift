import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A dedicated OS thread that runs a blocking poll loop (epoll_wait inside libbpf) until stopped, so
/// blocking waits never occupy Swift's cooperative thread pool.
final class PollingThread: @unchecked Sendable {
  private let stopFlag = Atomic<Bool>(false)
  private var thread: pthread_t?
  private let body: @Sendable (PollingThread) -> Void

  /// Starts `body`, which should loop while `isStopped` is false and return soon after it turns true.
  init(_ body: @escaping @Sendable (PollingThread) -> Void) {
    self.body = body
    let context = Unmanaged.passRetained(self).toOpaque()
    var handle = pthread_t()
    let rc = pthread_create(
      &handle, nil,
      { raw in
        guard let raw else { return nil }
        let me = Unmanaged<PollingThread>.fromOpaque(raw).takeRetainedValue()
        me.body(me)
        return nil
      }, context)
    if rc == 0 {
      thread = handle
    } else {
      Unmanaged<PollingThread>.fromOpaque(context).release()
    }
  }

  var isStopped: Bool { stopFlag.load(ordering: .acquiring) }

  /// Asks the loop to stop without waiting (safe from any thread, including the loop's own).
  func requestStop() { stopFlag.store(true, ordering: .releasing) }

  /// Asks the loop to stop and waits for the thread to finish.
  func stop() {
    requestStop()
    if let thread, !pthread_equal(thread, pthread_self()).boolValue {
      pthread_join(thread, nil)
    }
    thread = nil
  }
}

extension Int32 {
  fileprivate var boolValue: Bool { self != 0 }
}
