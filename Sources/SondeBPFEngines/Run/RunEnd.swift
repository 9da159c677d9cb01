import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What ends an engine's run (the profiler's, the tracer's): the stop token (Ctrl-C), the duration, the
/// command Sonde started exiting (seen through its pidfd), or every -p process gone. Both engines wait on
/// one `EventWaiter` and ask `reason(after:)` each time it returns; `finishCommand` reaps the command.
final class RunEnd {
  enum Reason { case stopped, duration, commandExited, processesGone }

  let waiter: EventWaiter
  let start = monotonicSeconds()
  private let duration: Double?
  private let launcher: PausedChild?
  private let exitWatch: FileDescriptor?
  private let watched: [Int32]
  /// The token `waiter` reports when the command's pidfd becomes readable.
  static let commandToken: UInt64 = 2

  /// `launcher`: the command, still paused (release it after this); `watched`: -p processes.
  init(stop: StopToken, duration: Double?, launcher: PausedChild?, watched: [Int32]) throws(SondeError) {
    waiter = try EventWaiter(stop: stop)
    self.duration = duration
    self.launcher = launcher
    self.watched = watched
    exitWatch = launcher.flatMap { Syscall.pidfd($0.pid) }
    if let exitWatch {
      do {
        try waiter.add(exitWatch.rawValue, token: Self.commandToken, label: "pidfd of the command")
      } catch {
        exitWatch.close()
        throw error
      }
    }
  }

  deinit { exitWatch?.close() }

  /// The latest the next wait may last: until the duration ends, or (to notice a command without a pidfd,
  /// kernels before 5.3, or exited -p processes) a second.
  func deadline(_ proposed: Double) -> Double {
    var deadline = proposed
    if let duration { deadline = min(deadline, start + duration) }
    if (launcher != nil && exitWatch == nil) || !watched.isEmpty { deadline = min(deadline, monotonicSeconds() + 1) }
    return deadline
  }

  /// Why the run ends now, given what the last wait returned; nil: it goes on.
  func reason(after ready: [EventWaiter.Ready]) throws(SondeError) -> Reason? {
    if waiter.isStopped { return .stopped }
    if let duration, monotonicSeconds() - start >= duration { return .duration }
    if let launcher, exitWatch == nil || ready.contains(where: { $0.token == Self.commandToken }),
      try launcher.poll() != nil
    {
      return .commandExited
    }
    if !watched.isEmpty && !watched.contains(where: { fileExists("/proc/\($0)") }) { return .processesGone }
    return nil
  }

  /// Reaps the command: ended by Ctrl-C it gets SIGINT, by the duration SIGTERM; its exit code.
  func finishCommand(_ reason: Reason?) throws(SondeError) -> Int32? {
    guard let launcher else { return nil }
    if reason != .commandExited, try launcher.poll() == nil {
      kill(launcher.pid, reason == .stopped ? SIGINT : SIGTERM)
    }
    return try launcher.wait().exitCode
  }
}
