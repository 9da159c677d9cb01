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

  public var profile: Profile { resolved.source }
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

  public init(options: ProfilerOptions) {
    self.options = options
  }

  /// Profiles until the duration passes, the command or the processes exit, or `stop` is stopped. Every
  /// BPF program, map, link and perf event fd is released when it returns or throws.
  public func run(stop: StopToken = StopToken()) throws(SondeError) -> ProfileRun {
    try validate()
    let symbolizer = Symbolizer()
    let prefetch = options.stacks == .userOnly ? nil : symbolizer.prefetchKernelSymbols()
    defer { prefetch?.stop() }
    let resolver = FileSymbolResolver(mappings: [], symbolizer: symbolizer)
    let mappings = ProcessMappings(resolver: resolver)

    let transport: any ProfileSource
    switch options.mode {
    case .cpu: transport = try ProfilerProgram(options: options)
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
        try transport.targets.update(UInt32(bitPattern: pid), ProcessTracking.targetActive)
        mappings.capture(pid: pid)
      }
      watched = pids
    case .command(let argv):
      let child = try PausedChild(arguments: argv)
      launcher = child
      // Sampled from its exec on (the program's exec hook activates it), as perf's enable_on_exec.
      try transport.targets.update(UInt32(bitPattern: child.pid), ProcessTracking.targetAtExec)
    case .systemWide, .cgroup:
      break
    }
    let events = options.mode == .cpu ? try openEvents() : []
    var followForks = false
    if case .processes = options.target { followForks = true }
    if case .command = options.target { followForks = true }
    try transport.attach(events: events, followForks: followForks)

    let waiter = try EventWaiter(stop: stop)
    try waiter.add(transport.newProcesses.waitDescriptor, token: 1, label: "new_pids ringbuf")
    let exitWatch = launcher.flatMap { Syscall.pidfd($0.pid) }
    defer { exitWatch?.close() }
    if let exitWatch { try waiter.add(exitWatch.rawValue, token: 2, label: "pidfd of the command") }
    try launcher?.release()
    onStart?()

    var builder = ProfileBuilder(eventName: options.mode == .cpu ? "cpu-clock" : "offcpu-time")
    if options.mode == .cpu { builder.setRate(frequency: options.frequency, period: nil) }
    var accounting = ProfileAccounting()
    let start = monotonicSeconds()
    var nextDrain = start + options.interval
    var interrupted = false
    var commandExited = false
    while true {
      let now = monotonicSeconds()
      var deadline = nextDrain
      if let d = options.duration { deadline = min(deadline, start + d) }
      // Without a pidfd (kernels before 5.3) the command's exit is noticed within a second.
      if launcher != nil && exitWatch == nil { deadline = min(deadline, now + 1) }
      let ready = try waiter.wait(timeoutSeconds: max(0, deadline - now))
      try captureAnnounced(transport, mappings)
      if waiter.isStopped {
        interrupted = true
        break
      }
      if let d = options.duration, monotonicSeconds() - start >= d { break }
      if let launcher, exitWatch == nil || ready.contains(where: { $0.token == 2 }), try launcher.poll() != nil {
        commandExited = true
        break
      }
      if !watched.isEmpty && !watched.contains(where: { fileExists("/proc/\($0)") }) { break }
      if monotonicSeconds() >= nextDrain {
        try drain(transport, into: &builder, mappings: mappings, accounting: &accounting, final: false)
        nextDrain += options.interval
        if nextDrain < monotonicSeconds() { nextDrain = monotonicSeconds() + options.interval }
      }
    }
    let sampled = monotonicSeconds() - start
    transport.detach()
    try captureAnnounced(transport, mappings)
    try drain(transport, into: &builder, mappings: mappings, accounting: &accounting, final: true)

    var exitCode: Int32?
    if let launcher {
      if !commandExited, try launcher.poll() == nil { kill(launcher.pid, interrupted ? SIGINT : SIGTERM) }
      exitCode = try launcher.wait().exitCode
    }
    let counters = try transport.counters()
    accounting.samples = counters[Int(SONDE_PROFILE_STAT_SAMPLES.rawValue)]
    accounting.stackCollisions = counters[Int(SONDE_PROFILE_STAT_COLLISIONS.rawValue)]
    accounting.stackErrors = counters[Int(SONDE_PROFILE_STAT_STACK_ERRORS.rawValue)]
    accounting.mapFullDrops = counters[Int(SONDE_PROFILE_STAT_MAP_FULL.rawValue)]
    accounting.pidEventDrops = counters[Int(SONDE_PROFILE_STAT_PID_EVENT_DROPS.rawValue)]
    accounting.ringbufDrops = counters[Int(SONDE_PROFILE_STAT_RINGBUF_DROPS.rawValue)]
    accounting.shortBlocks = counters[Int(SONDE_PROFILE_STAT_SHORT_BLOCKS.rawValue)]
    accounting.blockedThreadDrops = counters[Int(SONDE_PROFILE_STAT_START_FULL.rawValue)]
    builder.addDropped(accounting.mapFullDrops.saturatingAdd(accounting.ringbufDrops))

    var profile = builder.build()
    profile.durationNanoseconds = UInt64(max(0, sampled) * 1e9)
    profile.mappings = mappings.mappings
    let resolved = ResolvedProfile(profile) { pid, address, kernel, ret in
      resolver.resolve(pid: pid, address: address, isKernel: kernel, isReturnAddress: ret)
    }
    return ProfileRun(
      resolved: resolved, accounting: accounting, durationSeconds: sampled, commandExitCode: exitCode,
      interrupted: interrupted)
  }

  private func validate() throws(SondeError) {
    guard options.frequency > 0 else { throw SondeError.invalid("profile -F", "the frequency must be at least 1 Hz") }
    guard options.interval > 0 else { throw SondeError.invalid("profile --interval", "the interval must be above 0") }
    if let max = Self.maximumSampleRate(), options.frequency > max {
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

  /// One cpu-clock sampling event per online CPU (of the cgroup, with --cgroup).
  private func openEvents() throws(SondeError) -> [PerfEventFD] {
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue)
    attr.freq = 1
    attr.sample_freq = options.frequency
    if options.stacks == .userOnly { attr.exclude_kernel = 1 }
    var cgroup: FileDescriptor?
    if case .cgroup(let path) = options.target { cgroup = try Self.openCgroup(path) }
    defer { cgroup?.close() }
    var events: [PerfEventFD] = []
    for cpu in CPUList.online() {
      let target = cgroup.map { EventTarget.cgroup($0.rawValue, cpu: cpu) } ?? .cpu(cpu)
      events.append(try PerfEventFD.open(attr, target: target, label: "cpu-clock"))
    }
    return events
  }

  /// The cgroup directory given as a path: absolute, or relative to the hierarchy perf_event is bound to
  /// (the cgroup2 mount, or a cgroup v1 mount with the perf_event controller).
  static func openCgroup(_ path: String) throws(SondeError) -> FileDescriptor {
    let operation = "profile --cgroup \(path)"
    var full = path
    if !path.hasPrefix("/") {
      guard let root = perfEventHierarchy() else {
        throw SondeError(
          .notSupported, operation: operation, reason: "no cgroup2 mount and no cgroup v1 mount with perf_event",
          remedy: "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup) or give an absolute path")
      }
      full = root + "/" + path
    }
    let fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      throw SondeError(
        code == ENOENT ? .invalidInput : .system, operation: operation, errno: code,
        reason: code == ENOENT ? "no cgroup directory \(full)" : errnoDescription(code),
        remedy: "give a cgroup directory, e.g. system.slice/ssh.service")
    }
    return FileDescriptor(owning: fd)
  }

  /// Where the cgroup hierarchy that perf_event counts in is mounted, from /proc/self/mounts.
  static func perfEventHierarchy() -> String? {
    let mounts = (readSmallFile("/proc/self/mounts") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
    if let v2 = mounts.first(where: { $0.count > 2 && $0[2] == "cgroup2" }) { return String(v2[1]) }
    let v1 = mounts.first { $0.count > 3 && $0[2] == "cgroup" && $0[3].split(separator: ",").contains("perf_event") }
    return v1.map { String($0[1]) }
  }

  /// Reads the mappings of every process the program announced since the last call.
  private func captureAnnounced(_ transport: any ProfileSource, _ mappings: ProcessMappings) throws(SondeError) {
    for event in try transport.newProcesses.drain() { mappings.capture(pid: Int32(bitPattern: event.pid)) }
  }

  private func drain(
    _ transport: any ProfileSource, into builder: inout ProfileBuilder, mappings: ProcessMappings,
    accounting: inout ProfileAccounting, final: Bool
  ) throws(SondeError) {
    let drained = try transport.drain(final: final, missingStacks: &accounting.missingStacks)
    var samples: UInt64 = 0
    var unsymbolized: Set<Int32> = []
    for d in drained {
      samples +|= d.count
      if !d.user.isEmpty && !mappings.captured.contains(d.pid) && !mappings.capture(pid: d.pid) {
        unsymbolized.insert(d.pid)
        accounting.unsymbolizedSamples +|= d.count
      }
      let thread = Profile.Thread(pid: d.pid, tid: d.pid, comm: d.comm)
      builder.add(
        thread: thread, stack: Profile.Stack(kernel: d.kernel, user: d.user), count: d.count, weight: d.weight)
    }
    accounting.unsymbolizedProcesses += unsymbolized.count
    let drain = ProfileAccounting.Drain(samples: samples, keys: drained.count)
    accounting.drains.append(drain)
    onDrain?(drain, accounting)
  }
}
