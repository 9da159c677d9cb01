import CSonde
import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a `StatRequest`: opens counters, starts/waits for the command or the interval clock, and returns
/// the counts. Reports `-I` intervals through a callback; prints nothing, installs no signal handler.
/// It stops early when its `StopToken` is stopped (the CLI stops it on Ctrl-C): the command gets SIGINT,
/// as a terminal would send it, and the counts so far are returned.
public struct StatEngine: Sendable {
  public init() {}

  /// Runs the request. `onInterval` receives each `-I` delta as it is taken.
  public func run(
    _ request: StatRequest, stop: StopToken = StopToken(), onInterval: (StatInterval) -> Void = { _ in }
  ) throws(SondeError) -> StatResult {
    guard request.repeats >= 1 else { throw .invalid("stat", "-r needs a positive repeat count") }
    if request.scope == .command && request.command == nil {
      throw .invalid("stat", "nothing to count", remedy: "give a command after '--', or -p PID, -t TID, -a")
    }
    var perEvent = [RunningStatistics](repeating: RunningStatistics(), count: request.groups.flatMap(\.events).count)
    var elapsed = RunningStatistics()
    var last: SingleRun?
    var runs = 0
    for _ in 0..<request.repeats {
      let run = try runOnce(request, stop: stop, onInterval: onInterval)
      runs += 1
      elapsed.add(run.elapsedSeconds)
      for (i, reading) in run.readings.enumerated() {
        if let value = reading?.scaledValue { perEvent[i].add(value) }
      }
      last = run
      if run.interrupted { break }
    }
    guard let last else { throw .invalid("stat", "no run completed") }
    var counts = last.counts
    if runs > 1 {
      for i in counts.indices where counts[i].reading != nil {
        // Report the mean over runs, keeping the last run's enabled/running for the percentage.
        counts[i].reading?.value = UInt64(clampingDouble: perEvent[i].mean.rounded())
        if let r = counts[i].reading, r.running > 0, r.running < r.enabled {
          counts[i].reading?.value = UInt64(
            clampingDouble: (perEvent[i].mean * Double(r.running) / Double(r.enabled)).rounded())
        }
        counts[i].variancePercent = perEvent[i].relativeErrorPercent
      }
    }
    return StatResult(
      counts: counts, elapsedSeconds: elapsed.mean,
      elapsedVariancePercent: runs > 1 ? elapsed.relativeErrorPercent : nil,
      userSeconds: last.termination?.userSeconds, systemSeconds: last.termination?.systemSeconds,
      exitCode: last.termination?.exitCode, runs: runs, interrupted: last.interrupted)
  }

  /// The outcome of one run.
  private struct SingleRun {
    var counts: [StatCount]
    var readings: [CounterReading?]
    var elapsedSeconds: Double
    var termination: PausedChild.Termination?
    var interrupted: Bool
  }

  private func runOnce(_ request: StatRequest, stop: StopToken, onInterval: (StatInterval) -> Void)
    throws(SondeError) -> SingleRun
  {
    let child = try request.command.map { args throws(SondeError) in try PausedChild(arguments: args) }
    let targets: [EventTarget]
    var watchedPIDs: [Int32] = []
    switch request.scope {
    case .command:
      guard let child else { throw .invalid("stat", "no command") }
      targets = [.thread(child.pid)]
    case .processes(let pids):
      var tids: [Int32] = []
      for pid in pids { tids += try threads(ofProcess: pid) }
      targets = tids.map { EventTarget.thread($0) }
      watchedPIDs = pids
    case .threads(let tids):
      for tid in tids where !fileExists("/proc/\(tid)") {
        throw SondeError(.noSuchProcess, operation: "stat -t \(tid)", reason: "no such thread \(tid)")
      }
      targets = tids.map { EventTarget.thread($0) }
      watchedPIDs = tids
    case .cpus(let cpus, _):
      targets = cpus.map { EventTarget.cpu($0) }
    }
    let enableOnExec = request.scope == .command
    let counters = try CounterSet(
      groups: request.groups, targets: targets,
      options: CountingOptions(inherit: request.inherit, enableOnExec: enableOnExec, startDisabled: true))
    defer { counters.close() }

    let start = monotonicSeconds()
    if !enableOnExec { try counters.enable() }
    try child?.release()
    var termination: PausedChild.Termination?
    var interrupted = false
    var previous = [CounterReading?](repeating: nil, count: counters.events.count)
    let exitWatch = try ExitWatch(child: child?.pid, others: watchedPIDs, stop: stop)
    var nextTick = request.intervalMilliseconds.map { start + Double($0) / 1000 }
    let deadline = request.durationSeconds.map { start + $0 }

    while true {
      var timeout: Double? = nil
      if let nextTick { timeout = Swift.max(0, nextTick - monotonicSeconds()) }
      if let deadline { timeout = Swift.min(timeout ?? .infinity, Swift.max(0, deadline - monotonicSeconds())) }
      let event = try exitWatch.wait(timeoutSeconds: timeout)
      if event == .stopped && !interrupted {
        interrupted = true
        if let child { kill(child.pid, SIGINT) }
      }
      if event == .exited || (interrupted && child == nil) { break }
      if interrupted, let child {
        termination = try child.wait()
        break
      }
      let now = monotonicSeconds()
      if let tick = nextTick, now >= tick, let ms = request.intervalMilliseconds {
        let current = try counters.read()
        onInterval(StatInterval(timestamp: now - start, counts: makeCounts(counters, current, since: previous)))
        previous = current
        nextTick = tick + Double(ms) / 1000
      }
      if let deadline, now >= deadline { break }
    }
    if termination == nil, let child { termination = try child.wait() }
    let end = monotonicSeconds()
    try counters.disable()
    let final = try counters.read()
    if let ms = request.intervalMilliseconds, end - (nextTick.map { $0 - Double(ms) / 1000 } ?? start) > 0.0005 {
      onInterval(StatInterval(timestamp: end - start, counts: makeCounts(counters, final, since: previous)))
    }
    return SingleRun(
      counts: makeCounts(counters, final, since: nil), readings: final, elapsedSeconds: end - start,
      termination: termination, interrupted: interrupted)
  }

  private func makeCounts(_ counters: CounterSet, _ readings: [CounterReading?], since previous: [CounterReading?]?)
    -> [StatCount]
  {
    counters.events.indices.map { i in
      var reading = readings[i]
      if let current = reading, let earlier = previous?[i] { reading = current.delta(since: earlier) }
      if case .counting = counters.status[i], reading == nil { reading = .zero }
      var count = StatCount(event: counters.events[i], status: counters.status[i], reading: reading)
      count.userSpaceOnly = counters.userSpaceOnly.contains(i)
      return count
    }
  }
}

/// Waits for the command to exit (its pidfd), for watched processes to all disappear, for a timeout, or for
/// the stop token.
final class ExitWatch {
  enum Event { case exited, timeout, stopped }
  private let waiter: EventWaiter
  private let pidfd: FileDescriptor?
  private let others: [Int32]

  init(child: Int32?, others: [Int32], stop: StopToken) throws(SondeError) {
    self.others = others
    waiter = try EventWaiter(stop: stop)
    if let child, let owned = Syscall.pidfd(child) {
      try waiter.add(owned.rawValue, token: 0, label: "pidfd \(child)")
      pidfd = owned
    } else {
      pidfd = nil
    }
  }

  func wait(timeoutSeconds: Double?) throws(SondeError) -> Event {
    // With no command, watched pids are checked every 100 ms at least so the run ends when they do.
    var timeout = timeoutSeconds
    if pidfd == nil && !others.isEmpty { timeout = Swift.min(timeout ?? 0.1, 0.1) }
    let ready = try waiter.wait(timeoutSeconds: timeout)
    if waiter.isStopped { return .stopped }
    if !ready.isEmpty { return .exited }
    if pidfd == nil && !others.isEmpty && others.allSatisfy({ !processExists($0) }) {
      return .exited
    }
    return .timeout
  }
}

extension UInt64 {
  /// The nearest representable value: 0 for negatives and NaN, `UInt64.max` past it (a mean of scaled
  /// counts can exceed 2^64 when an event ran almost none of the time).
  init(clampingDouble value: Double) {
    if !(value > 0) {
      self = 0
    } else if value >= 18_446_744_073_709_551_615.0 {
      self = .max
    } else {
      self = UInt64(value)
    }
  }
}
