import ServiceLifecycle
import SondeSystem

/// Runs the agent's collection on its own thread until graceful shutdown; a profiler that cannot start
/// (privileges, BPF) fails the service group, which stops the agent with that error.
public struct CollectorService: Service {
  let agent: Agent

  public init(agent: Agent) { self.agent = agent }

  public func run() async throws {
    let failure = Locked<SondeError?>(nil)
    let finished = Locked(false)
    let thread = BlockingThread { [agent] thread in
      do throws(SondeError) {
        try agent.collect(stop: thread.token)
      } catch {
        failure.withLock { $0 = error }
      }
      finished.withLock { $0 = true }
    }
    defer { thread.stop() }
    while !Task.isShuttingDownGracefully && !finished.withLock({ $0 }) {
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
    }
    thread.stop()
    if let error = failure.withLock({ $0 }) { throw error }
  }
}

/// The push loop as a service: its own thread, stopped at graceful shutdown.
public struct PusherService: Service {
  let thread: @Sendable () -> BlockingThread

  public func run() async throws {
    let running = thread()
    defer { running.stop() }
    try? await gracefulShutdown()
  }
}

extension Agent {
  /// The push loop's service, nil without --push-url.
  public func pusherService() -> PusherService? {
    guard let pusher else { return nil }
    return PusherService { BlockingThread { pusher.run($0) } }
  }
}
