import ServiceLifecycle
import SondeSystem

/// Runs the agent's collection on its own thread until graceful shutdown; a profiler that cannot start
/// (privileges, BPF) fails the service group, which stops the agent with that error.
public struct CollectorService: Service {
  let agent: Agent

  public init(agent: Agent) { self.agent = agent }

  public func run() async throws {
    let failure = Locked<SondeError?>(nil)
    // Finished when the collection thread ends: the service waits on it or on shutdown, with no polling
    // (an idle agent should not wake for nothing).
    let (ended, endedContinuation) = AsyncStream<Void>.makeStream()
    let thread = BlockingThread { [agent] thread in
      do throws(SondeError) {
        try agent.collect(stop: thread.token)
      } catch {
        failure.withLock { $0 = error }
      }
      endedContinuation.finish()
    }
    defer { thread.stop() }
    await withTaskGroup(of: Void.self) { group in
      group.addTask { try? await gracefulShutdown() }
      group.addTask { for await _ in ended {} }
      await group.next()
      group.cancelAll()
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
