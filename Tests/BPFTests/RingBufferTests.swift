import BPF
import PerfEvents
import SondeBPFTestPrograms
import SondeBPFTypes
import SondeTestSupport
import Testing

@Suite struct RingBufferTests {
  func load(_ program: String, ringBytes: UInt32? = nil) throws -> BPFObject {
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.ringbuf, name: "ringbuf")
    try open.setConstant("target_tid", to: currentTID)
    if let ringBytes { try open.setMaxEntries(ringBytes, forMap: "events") }
    let object = try open.load(only: [program])
    return object
  }

  func drops(_ object: BPFObject) throws -> UInt64? {
    try object.map("stats", key: UInt32.self, value: UInt64.self).lookup(SONDE_STAT_DROPS.rawValue)
  }

  @Test func ringbufEventsAreAllConsumedInOrderWithZeroDrops() throws {
    let object = try load("sonde_rb_produce")
    let reader = try RingBufferReader<sonde_event>(object: object, map: "events")
    let link = try object.program("sonde_rb_produce").attach()
    var events: [sonde_event] = []
    for _ in 0..<20 {
      callGetpid(250)
      events += try reader.drain()
    }
    link.close()
    events += try reader.drain()
    #expect(events.count == 5000)
    #expect(events.map(\.seq) == (0..<5000).map(UInt64.init))
    #expect(events.allSatisfy { $0.tid == currentTID })
    #expect(try drops(object) == 0)
  }

  @Test func aTinyRingbufCountsItsDrops() throws {
    let object = try load("sonde_rb_produce", ringBytes: 4096)
    let reader = try RingBufferReader<sonde_event>(object: object, map: "events")
    let link = try object.program("sonde_rb_produce").attach()
    // Nothing consumes meanwhile. Each record takes 8 + 24 = 32 bytes and the kernel reserves only while
    // producer - consumer stays ≤ size - 1 (it checks against the mask), so 4096 bytes hold 127 events.
    callGetpid(1000)
    link.close()
    let events = try reader.drain()
    let dropped = try #require(try drops(object))
    #expect(events.count == 127)
    #expect(dropped == 1000 - 127)
    #expect(events.map(\.seq) == (0..<127).map(UInt64.init))
  }

  @Test func theEpollDrivenStreamDeliversEveryEvent() async throws {
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.ringbuf, name: "ringbuf")
    // Produced by a child process (getpid on another thread), so filter by the child's thread id.
    let child = try PausedChild(arguments: [TestSupport.demo, "getpid", "300"])
    try open.setConstant("target_tid", to: UInt32(child.pid))
    let object = try open.load(only: ["sonde_rb_produce"])
    let reader = try RingBufferReader<sonde_event>(object: object, map: "events")
    let link = try object.program("sonde_rb_produce").attach()
    let stream = reader.events(pollTimeoutMilliseconds: 50)
    #expect(try child.runToCompletion().exitCode == 0)
    var sequence: [UInt64] = []
    for await event in stream {
      sequence.append(event.seq)
      if sequence.count == 300 { break }
    }
    link.close()
    reader.close()
    #expect(sequence == (0..<300).map(UInt64.init))
  }

  @Test func theTimerDrivenDrainDeliversEveryEvent() async throws {
    let child = try PausedChild(arguments: [TestSupport.demo, "getpid", "200"])
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.ringbuf, name: "ringbuf")
    try open.setConstant("target_tid", to: UInt32(child.pid))
    let object = try open.load(only: ["sonde_rb_produce"])
    let reader = try RingBufferReader<sonde_event>(object: object, map: "events")
    let link = try object.program("sonde_rb_produce").attach()
    #expect(try child.runToCompletion().exitCode == 0)
    var sequence: [UInt64] = []
    for await batch in reader.batches(every: .milliseconds(20)) {
      sequence += batch.map(\.seq)
      if sequence.count >= 200 { break }
    }
    link.close()
    #expect(sequence == (0..<200).map(UInt64.init))
  }

  @Test func perfBufferEventsArriveWithTheirCPU() throws {
    let object = try load("sonde_pb_produce")
    let reader = try PerfBufferReader<sonde_event>(object: object, map: "perf_events", pagesPerCPU: 64)
    let link = try object.program("sonde_pb_produce").attach()
    callGetpid(2000)
    link.close()
    let records = try reader.drain()
    #expect(records.count == 2000)
    #expect(reader.lostRecords == 0)
    #expect(try drops(object) == 0)
    // Per-CPU rings are each in order; merged by sequence they are complete.
    #expect(records.map(\.event.seq).sorted() == (0..<2000).map(UInt64.init))
    #expect(records.allSatisfy { UInt32($0.cpu) == $0.event.cpu })
  }
}

@Suite struct PerfBufferStreamTests {
  @Test func thePerfBufferStreamDeliversEveryEvent() async throws {
    let child = try PausedChild(arguments: [TestSupport.demo, "getpid", "250"])
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.ringbuf, name: "ringbuf")
    try open.setConstant("target_tid", to: UInt32(child.pid))
    let object = try open.load(only: ["sonde_pb_produce"])
    let reader = try PerfBufferReader<sonde_event>(object: object, map: "perf_events")
    let link = try object.program("sonde_pb_produce").attach()
    let stream = reader.events(pollTimeoutMilliseconds: 50)
    #expect(try child.runToCompletion().exitCode == 0)
    var sequence: [UInt64] = []
    for await record in stream {
      sequence.append(record.event.seq)
      if sequence.count == 250 { break }
    }
    link.close()
    reader.close()
    #expect(sequence.sorted() == (0..<250).map(UInt64.init))
    #expect(reader.lostRecords == 0)
  }
}
