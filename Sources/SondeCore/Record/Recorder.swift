import CSonde
import PerfEvents
import Profiles
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The engine behind `sonde record`: opens sampling events on the target, maps one ring per CPU
/// (other fds on that CPU redirected into it with SET_OUTPUT), drains the rings as epoll reports data,
/// and writes a perf.data file as perf does (rounds of ring data, FINISHED_ROUND between them). It never
/// prints; it returns a `RecordResult`.
public final class Recorder {
  public let options: RecordOptions

  public init(options: RecordOptions) {
    self.options = options
  }

  /// Records until the command exits, the targets exit, the duration passes, or `stop` is stopped (the
  /// CLI stops it on Ctrl-C; another host may stop it while other engines keep running). Every fd, ring and
  /// the output file are released when it returns or throws.
  public func run(stop: StopToken = StopToken()) throws(SondeError) -> RecordResult {
    let startTime = monotonicSeconds()
    let specs = try buildAttributes()
    var targets = try RecordTargets.resolve(options)
    let set = try RecordRings(specs: specs, tasks: targets.tasks, cpus: try resolveCPUs(), options: options)
    let layout = SampleLayout(specs[0].attr)
    if options.target == .systemWide { targets.processes = listDirectory("/proc").compactMap { Int32($0) } }
    let events = zip(specs, set.ids).map { spec, ids in
      PerfDataEvent(attributes: spec.attr, ids: ids, name: spec.name)
    }
    let writer = try openWriter(events)
    var session = RecordingSession(writer: writer, decoder: set.decoder, overwrite: options.overwrite)
    session.stats.rings = set.rings.count
    session.stats.userSpaceOnlyEvents = set.userSpaceOnly

    // Side-band for what already runs: the kernel map, then existing processes.
    var synthesized: [[UInt8]] = []
    if let k = ProcSynthesizer.kernelMapping(layout: layout) { synthesized.append(k) }
    for pid in targets.processes {
      synthesized.append(contentsOf: ProcSynthesizer.records(forProcess: pid, layout: layout))
    }
    try session.write(synthesized)

    let poller = try RingPoller(rings: set.rings, stop: stop)
    // The command's exit ends the wait at once (a pidfd); without one (kernels before 5.3) the round timer
    // notices it.
    let exitWatch = targets.launcher.flatMap { Syscall.pidfd($0.pid) }
    defer { exitWatch?.close() }
    if let exitWatch { try poller.wake(on: exitWatch, label: "pidfd of the command") }
    if case .command = options.target {
      // The events enable themselves when the command execs (enable_on_exec).
      try targets.launcher?.release()
    } else {
      try set.enable()
      try targets.launcher?.release()
    }
    // --duration counts sampling time, from here: synthesizing a busy system's side-band can take a while.
    let samplingStart = monotonicSeconds()
    var durationElapsed = false
    while true {
      // Rings wake the loop when they fill past their watermark; the timer bounds how long records wait in
      // a ring (what a SIGKILL of Sonde would lose) and how late --duration ends.
      var timeout = Self.roundMilliseconds
      if let d = options.duration {
        timeout = min(timeout, Int32(max(0, (d - (monotonicSeconds() - samplingStart)) * 1000).rounded(.up)))
      }
      _ = try poller.wait(timeoutMilliseconds: timeout)
      try session.round(set.rings)
      if poller.isStopped { break }
      if let d = options.duration, monotonicSeconds() - samplingStart >= d {
        durationElapsed = true
        break
      }
      // With a pidfd the command's exit wakes the poller; only then (or without one) is it reaped.
      if let launcher = targets.launcher, exitWatch == nil || poller.woken, try launcher.poll() != nil { break }
      if targets.launcher == nil && options.target != .systemWide && poller.allHungUp { break }
    }
    set.disable()
    try session.finalDrain(set.rings)
    if let launcher = targets.launcher {
      let interrupted = poller.isStopped
      if try launcher.poll() == nil {
        // A stop is passed on as SIGINT, as a terminal would; at --duration Sonde ends the command itself.
        kill(launcher.pid, interrupted ? SIGINT : SIGTERM)
        session.stats.commandStoppedBySonde = durationElapsed && !interrupted
      }
      session.stats.commandExitCode = try launcher.wait().exitCode
    }
    var features = HostFeatures.collect(commandLine: options.commandLine)
    features.tracingData = TracingData.collect(for: events)
    var stats = try session.finish(features: features)
    stats.durationSeconds = monotonicSeconds() - startTime
    return stats
  }

  /// The longest a round waits: records reach the file at least this often, so a SIGKILL of Sonde loses at
  /// most this much (perf bounds it only by half a ring, seconds at low rates). A round's fixed cost (the
  /// wake-up, a buffered write's per-call ext4 work) dominates a quiet recording: at 999 Hz `-g` system-wide,
  /// 1 s rounds cost 0.024% of a core against perf's 0.020%, 2 s rounds 0.016% (median of 5 interleaved runs).
  static let roundMilliseconds: Int32 = 2000

  /// `-o -`, a FIFO or a character device gets perf's pipe format, written through; a regular file is kept as
  /// FILE.old, as perf does, before a new one is written.
  private func openWriter(_ events: [PerfDataEvent]) throws(SondeError) -> PerfDataWriter {
    let output = try OutputFile(path: options.output, rotate: true)
    guard output.isStream else { return try PerfDataWriter(file: output, events: events) }
    var features = HostFeatures.collect(commandLine: options.commandLine)
    // A stream carries the tracepoint formats up front, before the samples that need them.
    features.tracingData = TracingData.collect(for: events)
    return try PerfDataWriter(stream: output, events: events, features: features)
  }

  static func count(_ bytes: UnsafeRawBufferPointer, into stats: inout RecordResult) {
    let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    switch type {
    case RecordType.sample: stats.samples += 1
    case RecordType.lost:
      if bytes.count >= 24 {
        stats.lost +|= UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
      }
    case RecordType.lostSamples:
      if bytes.count >= 16 {
        stats.lostSamples +|= UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
      }
    case RecordType.throttle: stats.throttles += 1
    default: break
    }
  }

  /// The perf_event_attr of each requested event (parsed with perf's grammar by `EventParser`),
  /// configured for sampling, with its name. In overwrite mode the sampling events write backward and a
  /// forward "dummy" event carries the side-band (as perf does), so mmap/comm records are not
  /// overwritten by samples.
  private func buildAttributes() throws(SondeError) -> [(attr: perf_event_attr, name: String)] {
    guard !options.events.isEmpty else { throw SondeError.invalid("record", "no events given") }
    let parsed = try EventParser().parse(options.events).flatMap(\.events)
    var specs: [(attr: perf_event_attr, name: String)] = []
    let systemWide = options.target == .systemWide || options.cpus != nil
    let count = parsed.count + (options.overwrite ? 1 : 0)
    for i in 0..<count {
      let isDummy = i == parsed.count
      var attr = isDummy ? SamplingAttributes.dummy() : parsed[i].attributes()
      // A period or frequency written in the event (`pmu/…,period=N/`) wins over -c/-F.
      let isTracepoint = !isDummy && parsed[i].type == PERF_TYPE_TRACEPOINT.rawValue
      var period = isDummy ? 1 : (parsed[i].period ?? (parsed[i].frequency == nil ? options.period : nil))
      // Tracepoints are sampled at every hit unless -c says otherwise, as perf does.
      if isTracepoint && period == nil && parsed[i].frequency == nil { period = 1 }
      let frequency = isDummy ? nil : (parsed[i].frequency ?? options.frequency)
      SamplingAttributes.configureSampling(
        &attr, frequency: frequency, period: period, callGraph: options.callGraph,
        trackSideBand: options.overwrite ? isDummy : i == 0, systemWide: systemWide)
      if case .command = options.target {
        attr.enable_on_exec = 1
        attr.inherit = 1
      } else if case .processes = options.target {
        attr.inherit = 1
      }
      if options.overwrite && !isDummy { attr.write_backward = 1 }
      // The tracepoint's fields travel in RAW (decode them with its tracefs format); like perf, tracepoint
      // samples also carry CPU (perf script's default tracepoint output has a CPU column).
      if isTracepoint { attr.sample_type |= SampleType.raw.rawValue | SampleType.cpu.rawValue }
      if options.wakeupWatermark > 0 {
        attr.watermark = 1
        attr.wakeup_events = options.wakeupWatermark
      }
      specs.append((attr, isDummy ? "dummy:u" : parsed[i].name))
    }
    return specs
  }

  private func resolveCPUs() throws(SondeError) -> [Int32] {
    let online = CPUList.online()
    guard let wanted = options.cpus else { return online }
    for c in wanted where !online.contains(c) {
      throw SondeError.invalid("record -C", "CPU \(c) is not online (online: \(online))")
    }
    return wanted
  }

}
