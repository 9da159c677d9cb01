import CSonde
import Testing

@testable import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The mmap ring against the live kernel: records arrive, wrap, get lost when the ring is full, and the
/// overwrite ring keeps the newest ones. Software clocks work on every machine (no PMU needed).
struct SampleRingTests {
  static func clockSampler(period: UInt64, wakeupEvents: UInt32 = 1, backward: Bool = false) throws -> PerfEventFD {
    guard var attr = try EventParser().parseEvent("task-clock").first?.attributes() else {
      throw SondeError.invalid("test", "task-clock unknown")
    }
    SamplingAttributes.configureSampling(
      &attr, frequency: nil, period: period, callGraph: .framePointer, trackSideBand: false, systemWide: false)
    attr.wakeup_events = wakeupEvents
    attr.write_backward = backward ? 1 : 0
    return try PerfEventFD.open(attr, target: .currentThread, label: "task-clock")
  }

  static func burn(milliseconds: Int) {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    let end = Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec) + milliseconds * 1_000_000
    var x: UInt64 = 1
    while true {
      for _ in 0..<10000 { x = x &* 6_364_136_223_846_793_005 &+ 1 }
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
      if Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec) >= end { break }
    }
    blackHole(x)
  }

  @inline(never) static func blackHole(_ x: UInt64) { if x == 42 { print("") } }

  @Test func samplesOfThisThreadArriveWithItsTidAndIncreasingTimes() throws {
    let event = try Self.clockSampler(period: 1_000_000)  // 1 ms of task clock
    let ring = try SampleRing(event: event, dataPages: 8)
    let layout = SampleLayout(event.attributes)
    try event.enable()
    Self.burn(milliseconds: 60)
    try event.disable()
    var samples: [Sample] = []
    try ring.drain { bytes in
      let record = try PerfRecord.decode(bytes, layout: layout)
      if case .sample(let s) = record.body { samples.append(s) }
    }
    #expect(samples.count >= 40 && samples.count <= 70, "60 ms at one sample per ms: \(samples.count)")
    #expect(samples.allSatisfy { $0.tid == UInt32(sonde_gettid()) && $0.pid == UInt32(getpid()) })
    #expect(samples.allSatisfy { $0.period == 0 }, "a fixed period is the attr's, not in each sample")
    #expect(event.attributes.sample_period == 1_000_000)
    #expect(zip(samples, samples.dropFirst()).allSatisfy { $0.time < $1.time })
    #expect(samples.allSatisfy { !$0.callchain.isEmpty })
    #expect(ring.pendingBytes == 0, "the tail was published")
  }

  @Test func recordsThatWrapAroundTheEndAreCopiedOutWhole() throws {
    let event = try Self.clockSampler(period: 200_000)
    let ring = try SampleRing(event: event, dataPages: 1)
    let layout = SampleLayout(event.attributes)
    try event.enable()
    var total = 0
    var sizes = Set<Int>()
    for _ in 0..<40 {
      Self.burn(milliseconds: 2)
      try ring.drain { bytes in
        _ = try PerfRecord.decode(bytes, layout: layout)
        sizes.insert(bytes.count)
        total += bytes.count
      }
    }
    try event.disable()
    #expect(total > 4 * ring.dataSize, "the data area wrapped several times: \(total) bytes through \(ring.dataSize)")
    #expect(!sizes.isEmpty)
  }

  @Test func aFullRingMakesTheKernelEmitLostRecords() throws {
    let event = try Self.clockSampler(period: 100_000)  // 10 kHz of task clock
    let ring = try SampleRing(event: event, dataPages: 1)
    let layout = SampleLayout(event.attributes)
    try event.enable()
    Self.burn(milliseconds: 200)  // ~2000 samples into a 4 KiB ring
    var samples = 0
    var lost: UInt64 = 0
    let count = { (bytes: UnsafeRawBufferPointer) throws -> Void in
      switch try PerfRecord.decode(bytes, layout: layout).body {
      case .sample: samples += 1
      case .lost(_, let n): lost += n
      default: break
      }
    }
    try ring.drain(count)
    // The kernel writes PERF_RECORD_LOST once space frees up, ahead of the next record.
    Self.burn(milliseconds: 5)
    try event.disable()
    try ring.drain(count)
    #expect(lost > 0, "a 4 KiB ring cannot hold 200 ms at 10 kHz; samples kept: \(samples)")
    #expect(samples > 0)
  }

  @Test func anOverwriteRingKeepsTheNewestRecords() throws {
    let event = try Self.clockSampler(period: 100_000, backward: true)
    let ring = try SampleRing(event: event, dataPages: 1, overwrite: true)
    let layout = SampleLayout(event.attributes)
    try event.enable()
    Self.burn(milliseconds: 100)
    try event.disable()
    var times: [UInt64] = []
    try ring.snapshot { bytes in
      if case .sample(let s) = try PerfRecord.decode(bytes, layout: layout).body { times.append(s.time) }
    }
    #expect(times.count > 10)
    // Backward rings hold newest first.
    #expect(zip(times, times.dropFirst()).allSatisfy { $0 > $1 })
    #expect(ring.pendingBytes == 0)
  }

  @Test func theEpollPollerReportsReadableRings() throws {
    let event = try Self.clockSampler(period: 1_000_000, wakeupEvents: 5)
    let ring = try SampleRing(event: event, dataPages: 4)
    let poller = try RingPoller(rings: [ring])
    #expect(try poller.wait(timeoutMilliseconds: 0).isEmpty, "nothing yet")
    try event.enable()
    Self.burn(milliseconds: 20)
    try event.disable()
    #expect(try poller.wait(timeoutMilliseconds: 1000) == [0])
    #expect(ring.drain { _ in } >= 5)
  }

  @Test func setOutputSendsAnotherEventsRecordsIntoOneRing() throws {
    let a = try Self.clockSampler(period: 1_000_000)
    let b = try Self.clockSampler(period: 1_000_000)
    let ring = try SampleRing(event: a, dataPages: 4)
    try b.setOutput(to: a)
    let idA = try a.id()
    let idB = try b.id()
    try a.enable()
    try b.enable()
    Self.burn(milliseconds: 20)
    try a.disable()
    try b.disable()
    var ids = Set<UInt64>()
    let layout = SampleLayout(a.attributes)
    try ring.drain { bytes in
      if case .sample(let s) = try PerfRecord.decode(bytes, layout: layout).body { ids.insert(s.identifier) }
    }
    #expect(ids == [idA, idB])
  }

  @Test func theAsyncStreamDeliversEveryRecordAndEndsWhenAskedToStop() async throws {
    let event = try Self.clockSampler(period: 1_000_000, wakeupEvents: 4)
    let ring = try SampleRing(event: event, dataPages: 8)
    let poller = try RingPoller(rings: [ring])
    let layout = SampleLayout(event.attributes)
    try event.enable()
    Self.burn(milliseconds: 30)
    try event.disable()
    let stop = StopToken()
    var samples = 0
    for try await bytes in poller.records(pollMilliseconds: 20, stop: stop) {
      let record = try bytes.withUnsafeBytes { try PerfRecord.decode($0, layout: layout) }
      if case .sample = record.body { samples += 1 }
      if samples >= 20 { stop.stop() }
    }
    #expect(samples >= 20 && samples <= 40, "30 ms at 1 per ms: \(samples)")
  }
}
