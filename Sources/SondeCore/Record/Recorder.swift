import CSonde
import PerfEvents
import Profiles
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The engine behind `sonde record`: opens sampling events on the target, maps one ring per CPU
/// (other fds on that CPU redirected into it with SET_OUTPUT), drains the rings as epoll reports data,
/// and writes a time-ordered perf.data file. It never prints; it returns a `RecordResult`.
public final class Recorder {
  public let options: RecordOptions

  public init(options: RecordOptions) {
    self.options = options
  }

  /// One opened event fd and which event it belongs to.
  private struct OpenedFD {
    var event: Int
    var fd: PerfEventFD
  }

  /// Records until the command exits, the targets exit, the duration passes, or `shouldStop` says so.
  public func run(shouldStop: () -> Bool = { false }) throws(SondeError) -> RecordResult {
    let startTime = monotonicSeconds()
    let specs = try buildAttributes()
    let attrs = specs.map(\.attr)
    let names = specs.map(\.name)
    let cpus = try resolveCPUs()

    var launcher: PausedChild?
    var tasks: [Int32]
    var processes: [Int32] = []
    switch options.target {
    case .command(let argv):
      let l = try PausedChild(arguments: argv)
      launcher = l
      tasks = [l.pid]
    case .processes(let pids):
      processes = pids
      tasks = []
      for pid in pids {
        guard fileExists("/proc/\(pid)") else {
          throw SondeError(.noSuchProcess, operation: "record -p \(pid)", reason: "no such process \(pid)")
        }
        let tids = listDirectory("/proc/\(pid)/task").compactMap { Int32($0) }
        tasks.append(contentsOf: tids.isEmpty ? [pid] : tids)
      }
    case .threads(let tids):
      tasks = tids
      for tid in tids {
        guard fileExists("/proc/\(tid)") else {
          throw SondeError(.noSuchProcess, operation: "record -t \(tid)", reason: "no such thread \(tid)")
        }
        if let tgid = Self.threadGroup(of: tid), !processes.contains(tgid) { processes.append(tgid) }
      }
    case .systemWide:
      tasks = [-1]
      if let workload = options.workload { launcher = try PausedChild(arguments: workload) }
    }

    // Open every (event, task, cpu); the first fd per CPU owns that CPU's ring.
    var opened: [OpenedFD] = []
    var rings: [SampleRing] = []
    // Backward (overwrite) and forward rings cannot be shared, so each CPU has one owner per direction.
    struct RingKey: Hashable {
      var cpu: Int32
      var backward: Bool
    }
    var ringOwner: [RingKey: PerfEventFD] = [:]
    var userSpaceOnly: [String] = []
    for cpu in cpus {
      for task in tasks {
        for (index, spec) in specs.enumerated() {
          let target = EventTarget(pid: task, cpu: cpu)
          let fd: PerfEventFD
          do {
            fd = try PerfEventFD.open(spec.attr, target: target, label: spec.name)
          } catch let e where e.kind == .noSuchProcess && tasks.count > 1 {
            // A thread of a -p target exited since /proc listed it; perf skips it too.
            continue
          }
          let key = RingKey(cpu: cpu, backward: spec.attr.write_backward != 0)
          if let owner = ringOwner[key] {
            try fd.setOutput(to: owner)
          } else {
            ringOwner[key] = fd
            // Side-band rings stay small: mmap/comm/task records are rare.
            let pages = key.backward || !options.overwrite ? options.dataPages : 16
            rings.append(try SampleRing(event: fd, dataPages: pages, overwrite: key.backward))
          }
          opened.append(OpenedFD(event: index, fd: fd))
          if fd.fellBackToUserSpace && !userSpaceOnly.contains(spec.name) { userSpaceOnly.append(spec.name) }
        }
      }
    }
    guard !opened.isEmpty else {
      throw SondeError(.noSuchProcess, operation: "record", reason: "every target thread exited before sampling began")
    }
    var ids = [[UInt64]](repeating: [], count: attrs.count)
    for o in opened { ids[o.event].append(try o.fd.id()) }
    let layout = SampleLayout(attrs[0])
    let decoder = RecordDecoder(
      defaultLayout: layout,
      layouts: Dictionary(
        uniqueKeysWithValues: zip(attrs.indices, ids).flatMap { i, list in list.map { ($0, SampleLayout(attrs[i])) } }))

    // Side-band for what already runs: the kernel map, then existing processes.
    var synthesized: [[UInt8]] = []
    if let k = ProcSynthesizer.kernelMapping(layout: layout) { synthesized.append(k) }
    if options.target == .systemWide {
      processes = listDirectory("/proc").compactMap { Int32($0) }
    }
    for pid in processes { synthesized.append(contentsOf: ProcSynthesizer.records(forProcess: pid, layout: layout)) }

    // The file is written as the recording goes: synthesized side-band first, then rounds of records
    // merged across CPUs in time order, each followed by FINISHED_ROUND as perf writes them.
    var events: [PerfDataEvent] = []
    for (i, attr) in attrs.enumerated() {
      events.append(PerfDataEvent(attributes: attr, ids: ids[i], name: names[i]))
    }
    // `-o -`, a FIFO or a character device gets perf's pipe format, written through; a regular file is
    // kept as FILE.old, as perf does, before a new one is written.
    let output = try OutputFile(path: options.output, rotate: true)
    let writer: PerfDataWriter
    if output.isStream {
      var features = HostFeatures.collect(commandLine: options.commandLine)
      // A stream carries the tracepoint formats up front, before the samples that need them.
      features.tracingData = TracingData.collect(for: events)
      writer = try PerfDataWriter(stream: output, events: events, features: features)
    } else {
      writer = try PerfDataWriter(file: output, events: events)
    }
    var buildIDs = BuildIDCollector(decoder: decoder)
    var bytesWritten: UInt64 = 0
    func write(_ records: [[UInt8]]) throws(SondeError) {
      for r in records {
        try writer.append(r)
        buildIDs.observe(r)
        bytesWritten += UInt64(r.count)
      }
    }
    try write(synthesized)

    let poller = try RingPoller(rings: rings)
    if case .command = options.target {
      // The events enable themselves when the command execs (enable_on_exec).
      try launcher?.release()
    } else {
      for o in opened { try o.fd.enable() }
      try launcher?.release()
    }

    var sorter = RecordSorter()
    var stats = RecordResult(
      output: options.output, samples: 0, lost: 0, lostSamples: 0, throttles: 0, records: 0, bytesWritten: 0,
      durationSeconds: 0, commandExitCode: nil, rings: rings.count)
    stats.userSpaceOnlyEvents = userSpaceOnly
    let drain = { (ring: SampleRing) in
      ring.drain { bytes in
        sorter.add(time: decoder.time(of: bytes), bytes: [UInt8](bytes))
        Self.count(bytes, into: &stats)
      }
    }
    var interrupted = false
    var durationElapsed = false
    while true {
      _ = try poller.wait(timeoutMilliseconds: 100)
      if !options.overwrite {
        // A round drains every ring, so the next round's horizon is safe for all CPUs.
        for ring in rings { _ = drain(ring) }
        let ready = sorter.finishRound()
        if !ready.isEmpty {
          try write(ready + [RecordSorter.finishedRoundRecord])
          // On disk every round, header included: a SIGKILL loses at most the current round.
          try writer.sync()
        }
      } else {
        // Flight recorder: only the forward side-band rings are read as we go; they are kept until the end.
        for ring in rings where !ring.overwrite { _ = drain(ring) }
      }
      if shouldStop() {
        interrupted = true
        break
      }
      if let d = options.duration, monotonicSeconds() - startTime >= d {
        durationElapsed = true
        break
      }
      if let launcher, try launcher.poll() != nil { break }
      if launcher == nil && options.target != .systemWide && poller.allHungUp { break }
    }
    for o in opened { try? o.fd.disable() }
    for ring in rings {
      if options.overwrite {
        // The newest records each backward ring still holds (the kernel overwrote older ones).
        _ = try? ring.snapshot { bytes in
          sorter.add(time: decoder.time(of: bytes), bytes: [UInt8](bytes))
          Self.count(bytes, into: &stats)
        }
      } else {
        _ = drain(ring)
      }
    }
    if let launcher {
      if try launcher.poll() == nil {
        // Ctrl-C is passed on as SIGINT, as a terminal would; at --duration Sonde ends the command itself.
        kill(launcher.pid, interrupted ? SIGINT : SIGTERM)
        stats.commandStoppedBySonde = durationElapsed && !interrupted
      }
      stats.commandExitCode = try launcher.wait().exitCode
    }
    try write(sorter.finishAll())

    var features = HostFeatures.collect(commandLine: options.commandLine)
    features.buildIDs = buildIDs.entries()
    features.tracingData = TracingData.collect(for: events)
    try writer.finish(features: features)
    stats.records = writer.recordCount
    stats.bytesWritten = bytesWritten
    stats.durationSeconds = monotonicSeconds() - startTime
    return stats
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

  static func threadGroup(of tid: Int32) -> Int32? {
    guard let status = readSmallFile("/proc/\(tid)/status"),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Tgid:") })
    else { return nil }
    return Int32(line.dropFirst(5).trimmingWhitespace())
  }
}
