import CSonde
import Foundation
import SondeTestSupport
import Testing

@testable import PerfEvents

/// HEADER_TRACING_DATA: the byte layout perf's trace-event-read.c expects, the round trip through Sonde's
/// writer and reader, and agreement with the section perf record itself writes.
@Suite(.serialized)
struct TracingDataTests {
  static func sample() -> TracingData {
    var d = TracingData()
    d.pageSize = 4096
    d.headerPage = Array("HP".utf8)
    d.headerEvent = Array("HEV".utf8)
    d.systems = [TracingData.System(name: "sys", formats: [Array("F1".utf8), Array("F22".utf8)])]
    d.printkFormats = Array("P".utf8)
    d.savedCmdlines = Array("1 a\n".utf8)
    return d
  }

  @Test func layoutIsWhatPerfReads() throws {
    let bytes = Self.sample().encoded
    var expected: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing0.6".utf8) + [0]
    expected += [0, 8, 0x00, 0x10, 0, 0]  // little-endian, sizeof(long) 8, page size 4096 (u32)
    expected += Array("header_page".utf8) + [0] + [2, 0, 0, 0, 0, 0, 0, 0] + Array("HP".utf8)
    expected += Array("header_event".utf8) + [0] + [3, 0, 0, 0, 0, 0, 0, 0] + Array("HEV".utf8)
    expected += [0, 0, 0, 0]  // no ftrace formats
    expected += [1, 0, 0, 0] + Array("sys".utf8) + [0] + [2, 0, 0, 0]
    expected += [2, 0, 0, 0, 0, 0, 0, 0] + Array("F1".utf8) + [3, 0, 0, 0, 0, 0, 0, 0] + Array("F22".utf8)
    expected += [0, 0, 0, 0]  // kallsyms: u32 size 0
    expected += [1, 0, 0, 0] + Array("P".utf8)  // printk formats: u32 size
    expected += [4, 0, 0, 0, 0, 0, 0, 0] + Array("1 a\n".utf8)  // saved cmdlines: u64 size
    #expect(bytes == expected)
    #expect(try TracingData.decode(bytes) == Self.sample())
  }

  @Test func truncatedSectionsAreErrorsNotCrashes() {
    let bytes = Self.sample().encoded
    for cut in [0, 5, 14, 30, bytes.count - 1] {
      #expect(throws: RecordDecodeError.self) { try TracingData.decode(Array(bytes.prefix(cut))) }
    }
    var badMagic = bytes
    badMagic[0] = 0
    #expect(throws: RecordDecodeError.self) { try TracingData.decode(badMagic) }
  }

  @Test func writerAndReaderCarryTheSection() throws {
    let path = NSTemporaryDirectory() + "sonde-tracing-\(getpid()).data"
    defer { unlink(path) }
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_TRACEPOINT.rawValue
    attr.config = 1
    attr.sample_type = SampleType.raw.rawValue | SampleType.tid.rawValue
    let writer = try PerfDataWriter(path: path, events: [PerfDataEvent(attributes: attr, ids: [3], name: "sys:ev")])
    var features = PerfDataFeatures()
    features.tracingData = Self.sample()
    try writer.finish(features: features)
    let file = try PerfDataFile(path: path)
    #expect(file.features.tracingData == Self.sample())
    #expect(!file.features.otherFeatures.contains(FeatureID.tracingData.rawValue))
  }

  /// In a pipe the section is a TRACING_DATA record whose 16-byte header leaves out the payload after it.
  @Test func pipeWriterAndReaderCarryTheRecord() throws {
    let path = NSTemporaryDirectory() + "sonde-tracing-pipe-\(getpid()).data"
    defer { unlink(path) }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    #expect(fd >= 0)
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_TRACEPOINT.rawValue
    attr.sample_type = SampleType.raw.rawValue | SampleType.tid.rawValue
    var features = PerfDataFeatures()
    features.tracingData = Self.sample()
    let writer = try PerfDataWriter(
      pipe: fd, events: [PerfDataEvent(attributes: attr, ids: [3], name: "sys:ev")], features: features)
    try writer.finish(features: features)
    close(fd)
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    let payload = Self.sample().encoded
    let padded = (payload.count + 7) / 8 * 8
    var record: [UInt8] = [66, 0, 0, 0, 0, 0, 16, 0]
    record += withUnsafeBytes(of: UInt32(padded).littleEndian, Array.init) + [0, 0, 0, 0]
    record += payload + [UInt8](repeating: 0, count: padded - payload.count)
    #expect(Array(bytes.suffix(record.count)) == record)
    let file = try PerfDataFile(path: path)
    #expect(file.isPipe)
    let scan = try file.forEachRecord { _, _ in }
    #expect(scan.bytes == bytes.count - 16, "every byte after the pipe header is framed by some record")
    #expect(file.features.tracingData == Self.sample())
  }

  /// perf record's pipe stream: Sonde frames its TRACING_DATA record and decodes every sample after it.
  @Test(.enabled(if: TraceFS.root != nil, "tracefs is not mounted"))
  func perfPipeStreamsWithTracingDataAreRead() throws {
    let path = NSTemporaryDirectory() + "sonde-perf-tracing-pipe-\(getpid()).data"
    defer { unlink(path) }
    let r = try TestSupport.run(
      "sh", ["-c", "perf record -q -e syscalls:sys_enter_getpid -o - -- '\(TestSupport.demo)' getpid 23 > '\(path)'"])
    #expect(r.status == 0, "\(r.stderr)")
    let file = try PerfDataFile(path: path)
    var samples = 0
    try file.forEachDecodedRecord { if case .sample = $0.body { samples += 1 } }
    #expect(samples == 23)
    #expect(file.features.tracingData?.systems.map(\.name) == ["syscalls"])
  }

  /// perf record's own section decodes, and holds the same tracefs files Sonde collects for that event.
  @Test(.enabled(if: TraceFS.root != nil, "tracefs is not mounted"))
  func perfRecordsTheSameFilesSondeCollects() throws {
    let path = NSTemporaryDirectory() + "sonde-perf-tracing-\(getpid()).data"
    defer { unlink(path) }
    let r = try TestSupport.run(
      "perf", ["record", "-q", "-e", "syscalls:sys_enter_getpid", "-o", path, "--", TestSupport.demo, "getpid", "2"])
    #expect(r.status == 0, "\(r.stderr)")
    let file = try PerfDataFile(path: path)
    let theirs = try #require(file.features.tracingData)
    let event = try #require(file.events.first)
    let ours = try #require(
      TracingData.collect(
        for: [PerfDataEvent(attributes: event.attributes, ids: event.ids, name: "syscalls:sys_enter_getpid")]))
    #expect(theirs.version == ours.version)
    #expect(theirs.longSize == ours.longSize && theirs.pageSize == ours.pageSize)
    #expect(theirs.headerPage == ours.headerPage)
    #expect(theirs.headerEvent == ours.headerEvent)
    #expect(theirs.ftraceFormats == ours.ftraceFormats)
    #expect(theirs.systems == ours.systems)
    #expect(theirs.printkFormats == ours.printkFormats)
  }

  @Test func noTracepointMeansNoSection() throws {
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    #expect(TracingData.collect(for: [PerfDataEvent(attributes: attr, ids: [1], name: "cpu-clock")]) == nil)
  }
}
