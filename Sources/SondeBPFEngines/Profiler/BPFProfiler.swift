import BPF
import CSonde
import PerfEvents
import Profiles
import SondeBPFTypes
import SondeCore
import SondeSystem
import Symbols

#if canImport(Glibc)
  import Glibc
#endif

/// What a profile run produced: the symbolized profile and what was counted (and lost) on the way.
public struct ProfileRun: Sendable {
  public var resolved: ResolvedProfile
  public var accounting: ProfileAccounting
  /// Wall-clock seconds of sampling.
  public var durationSeconds: Double
  /// The command's exit code (a `-- COMMAND` target).
  public var commandExitCode: Int32?
  /// Whether the run ended at the stop token (Ctrl-C), not at its duration or the target's exit.
  public var interrupted = false
  /// When sampling began, nanoseconds since the epoch (CLOCK_REALTIME).
  public var startTimeNanoseconds: Int64 = 0
  /// The GNU build-ids of the binaries the profile's frames are in, by mapping path.
  public var buildIDs: [String: [UInt8]] = [:]

  public var profile: Profile { resolved.source }
}

/// One window of a continuous profile: the samples drained between two wall-clock times, symbolized, and
/// what the run has counted so far (cumulative: a host takes differences between windows).
public struct ProfileWindow: Sendable {
  public var resolved: ResolvedProfile
  /// CLOCK_REALTIME nanoseconds since the epoch.
  public var startNanoseconds: Int64
  public var endNanoseconds: Int64
  public var accounting: ProfileAccounting
}

/// The eBPF profiler: samples the target's CPU time at `frequency` per CPU (or, in off-CPU mode, measures
/// the time its threads spend blocked) with a BPF program that aggregates in the kernel, drains the
/// aggregates every `interval`, captures each process's mappings when it first shows up (so it symbolizes
/// after it exits), and returns one symbolized `Profile`. It never prints; a host reads progress through
/// `onDrain`.
public final class BPFProfiler {
  public let options: ProfilerOptions
  /// Called after every drain with what it drained and the accounting so far.
  public var onDrain: (@Sendable (ProfileAccounting.Drain, ProfileAccounting) -> Void)?
  /// Called once the programs are attached and sampling has begun.
  public var onStart: (@Sendable () -> Void)?
  /// Continuous profiling (`sonde agent`): when set, every drain's samples are handed over as one
  /// symbolized window, on the profiler's thread, and the profile the run returns holds the last window
  /// only. Without it the run accumulates one profile.
  public var onWindow: ((ProfileWindow) -> Void)?

  public init(options: ProfilerOptions) {
    self.options = options
  }

  /// Profiles until the duration passes, the command or the processes exit, or `stop` is stopped. Every
  /// BPF program, map, link and perf event fd is released when it returns or throws.
  public func run(stop: StopToken = StopToken()) throws(SondeError) -> ProfileRun {
    try validate()
    var symbolizerOptions = Symbolizer.Options()
    symbolizerOptions.maxCachedSymbolBytes = options.symbolCacheBytes
    let symbolizer = Symbolizer(options: symbolizerOptions)
    let prefetch = options.stacks == .userOnly ? nil : symbolizer.prefetchKernelSymbols()
    defer { prefetch?.stop() }
    let resolver = FileSymbolResolver(mappings: [], symbolizer: symbolizer)
    let mappings = ProcessMappings(resolver: resolver)

    let transport: any ProfileSource
    switch options.mode {
    case .cpu:
      transport = options.transport == .perf ? PerfRingSource(options: options) : try ProfilerProgram(options: options)
    case .offCPU(let minimumBlock):
      transport = try OffCPUProgram(options: options, minimumBlockNanoseconds: minimumBlock.saturatingMultiply(1000))
    }
    defer { transport.close() }
    var launcher: PausedChild?
    var watched: [Int32] = []
    switch options.target {
    case .processes(let pids):
      for pid in pids {
        guard fileExists("/proc/\(pid)") else {
          throw SondeError(
            .noSuchProcess, operation: "profile -p \(pid)", reason: "no such process \(pid)",
            remedy: "check the pid (ps -e lists them)")
        }
        try transport.addTarget(pid, atExec: false)
        mappings.capture(pid: pid)
      }
      watched = pids
      transport.prepare(existing: pids, mappings)
    case .command(let argv):
      let child = try PausedChild(arguments: argv)
      launcher = child
      // Sampled from its exec on (the program's exec hook activates it), as perf's enable_on_exec.
      try transport.addTarget(child.pid, atExec: true)
    case .systemWide:
      transport.prepare(existing: listDirectory("/proc").compactMap { Int32($0) }, mappings)
    case .cgroup:
      break
    }
    try transport.attach(followForks: options.target.followsProcesses)

    let end = try RunEnd(stop: stop, duration: options.duration, launcher: launcher, watched: watched)
    for fd in transport.waitDescriptors { try end.waiter.add(fd, token: 1, label: "profile source") }
    try launcher?.release()
    onStart?()

    var builder = ProfileBuilder(eventName: options.mode == .cpu ? "cpu-clock" : "offcpu-time")
    if options.mode == .cpu { builder.setRate(frequency: options.frequency, period: nil) }
    var accounting = ProfileAccounting()
    var unsymbolized: Set<Int32> = []
    let start = end.start
    let startWallClock = wallClockNanoseconds()
    var windowStart = startWallClock
    var windows = 0
    var exitedBefore: Set<Int32> = []
    var nextDrain = start + options.interval
    var reason: RunEnd.Reason?
    while reason == nil {
      let now = monotonicSeconds()
      var proposed = nextDrain
      if let period = transport.servicePeriod { proposed = min(proposed, now + period) }
      let ready = try end.waiter.wait(timeoutSeconds: max(0, end.deadline(proposed) - now))
      try transport.service(mappings)
      reason = try end.reason(after: ready)
      if reason == nil && monotonicSeconds() >= nextDrain {
        try drain(
          transport, into: &builder, mappings: mappings, accounting: &accounting, unsymbolized: &unsymbolized,
          final: false)
        if let onWindow {
          try transport.account(&accounting)
          windowStart = emitWindow(&builder, since: windowStart, accounting, resolver, onWindow)
          // Every window is symbolized when emitted: processes that exited since are not needed any more.
          // A process is forgotten at the check after the one that found it gone, so samples it took just
          // before exiting, drained late, still symbolize.
          windows += 1
          if windows % 60 == 0 {
            let exited = mappings.exited()
            let gone = exited.intersection(exitedBefore)
            mappings.forget(gone)
            unsymbolized.subtract(gone)
            exitedBefore = exited.subtracting(gone)
          }
        }
        nextDrain += options.interval
        if nextDrain < monotonicSeconds() { nextDrain = monotonicSeconds() + options.interval }
      }
    }
    let sampled = monotonicSeconds() - start
    transport.detach()
    try transport.service(mappings)
    try drain(
      transport, into: &builder, mappings: mappings, accounting: &accounting, unsymbolized: &unsymbolized,
      final: true)

    let exitCode = try end.finishCommand(reason)
    try transport.account(&accounting)
    if let onWindow {
      var last = builder
      _ = emitWindow(&last, since: windowStart, accounting, resolver, onWindow)
    }
    builder.addDropped(accounting.mapFullDrops.saturatingAdd(accounting.ringbufDrops))

    var profile = builder.build()
    profile.durationNanoseconds = UInt64(max(0, sampled) * 1e9)
    profile.mappings = mappings.mappings
    let resolved = ResolvedProfile(profile) { pid, address, kernel, ret in
      resolver.resolve(pid: pid, address: address, isKernel: kernel, isReturnAddress: ret)
    }
    return ProfileRun(
      resolved: resolved, accounting: accounting, durationSeconds: sampled, commandExitCode: exitCode,
      interrupted: reason == .stopped, startTimeNanoseconds: startWallClock, buildIDs: resolver.loadedBuildIDs)
  }

  /// Hands the samples drained since `start` to `onWindow` as one symbolized window and empties the
  /// builder; returns the next window's start.
  private func emitWindow(
    _ builder: inout ProfileBuilder, since start: Int64, _ accounting: ProfileAccounting,
    _ resolver: FileSymbolResolver, _ onWindow: (ProfileWindow) -> Void
  ) -> Int64 {
    let now = wallClockNanoseconds()
    var profile = builder.build()
    profile.durationNanoseconds = UInt64(max(0, now - start))
    let resolved = ResolvedProfile(profile) { pid, address, kernel, ret in
      resolver.resolve(pid: pid, address: address, isKernel: kernel, isReturnAddress: ret)
    }
    onWindow(ProfileWindow(resolved: resolved, startNanoseconds: start, endNanoseconds: now, accounting: accounting))
    // The window's names are strings now: the file pages they and the new images' headers came from can go.
    resolver.releaseFilePages()
    let eventName = profile.eventName
    builder = ProfileBuilder(eventName: eventName)
    if options.mode == .cpu { builder.setRate(frequency: options.frequency, period: nil) }
    return now
  }

  private func validate() throws(SondeError) {
    guard options.frequency > 0 else { throw SondeError.invalid("profile -F", "the frequency must be at least 1 Hz") }
    guard options.interval > 0 else { throw SondeError.invalid("profile --interval", "the interval must be above 0") }
    if options.mode == .cpu, let max = Self.maximumSampleRate(), options.frequency > max {
      throw SondeError.invalid(
        "profile -F \(options.frequency)", "above kernel.perf_event_max_sample_rate (\(max) Hz)",
        remedy: "use -F \(max) or less, or raise the sysctl")
    }
  }

  /// kernel.perf_event_max_sample_rate, which the kernel lowers on its own when sampling takes too long.
  public static func maximumSampleRate() -> UInt64? {
    readSmallFile("/proc/sys/kernel/perf_event_max_sample_rate").flatMap {
      $0.split(whereSeparator: \.isWhitespace).first.flatMap { UInt64($0) }
    }
  }

  private func drain(
    _ transport: any ProfileSource, into builder: inout ProfileBuilder, mappings: ProcessMappings,
    accounting: inout ProfileAccounting, unsymbolized: inout Set<Int32>, final: Bool
  ) throws(SondeError) {
    let drained = try transport.drain(final: final, missingStacks: &accounting.missingStacks)
    var samples: UInt64 = 0
    for d in drained {
      samples +|= d.count
      if !d.user.isEmpty && !mappings.captured.contains(d.pid) && !mappings.capture(pid: d.pid)
        && !mappings.hasMappings(d.pid)
      {
        unsymbolized.insert(d.pid)
        accounting.unsymbolizedSamples +|= d.count
      }
      let thread = Profile.Thread(pid: d.pid, tid: d.pid, comm: d.comm)
      builder.add(
        thread: thread, stack: Profile.Stack(kernel: d.kernel, user: d.user), count: d.count, weight: d.weight)
    }
    // A process is counted once however many drains its samples came in.
    accounting.unsymbolizedProcesses = unsymbolized.count
    let drain = ProfileAccounting.Drain(samples: samples, keys: drained.count)
    // A continuous run keeps no list of its drains (one a second, for as long as it runs).
    if onWindow == nil { accounting.drains.append(drain) }
    onDrain?(drain, accounting)
  }
}
