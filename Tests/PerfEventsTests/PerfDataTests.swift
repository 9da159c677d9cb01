import CSonde
import Foundation
import SondeTestSupport
import Testing

@testable import PerfEvents
import SondeSystem

/// perf.data writing and reading: a round trip through Sonde's own writer and reader, files written by
/// perf (file and pipe mode), and a corpus of corrupted files that must produce errors, never crashes.
@Suite(.serialized)
struct PerfDataTests {
  static func layoutAttr() -> perf_event_attr {
    var attr = (try? EventParser().parseEvent("cpu-clock").first?.attributes()) ?? perf_event_attr()
    SamplingAttributes.configureSampling(
      &attr, frequency: 999, period: nil, callGraph: .framePointer, trackSideBand: true, systemWide: false)
    return attr
  }

  static func writeSample(to path: String) throws -> (records: [PerfRecord], features: PerfDataFeatures) {
    let attr = layoutAttr()
    let layout = SampleLayout(attr)
    var records: [PerfRecord] = []
    records.append(PerfRecord(type: RecordType.comm, body: .comm(CommRecord(pid: 42, tid: 42, comm: "worker"))))
    var m = MmapRecord(pid: 42, tid: 42, address: 0x40_0000, length: 0x1000, pageOffset: 0, filename: "/bin/worker")
    m.protection = 5
    records.append(PerfRecord(type: RecordType.mmap2, misc: RecordMisc.user, body: .mmap2(m)))
    for i in 0..<100 {
      var s = Sample()
      (s.identifier, s.ip, s.pid, s.tid, s.time, s.period) = (
        7, 0x40_0010 + UInt64(i), 42, 42, 1000 + UInt64(i), 1_001_001
      )
      s.callchain = [CallchainContext.user, s.ip, 0x40_0800]
      records.append(PerfRecord(type: RecordType.sample, misc: RecordMisc.user, body: .sample(s)))
    }
    records.append(PerfRecord(type: RecordType.lost, body: .lost(id: 7, count: 3)))
    var f = PerfDataFeatures()
    f.hostname = "testhost"
    f.osRelease = "6.18.0"
    f.version = "sonde test"
    f.arch = "x86_64"
    f.cpusAvailable = 4
    f.cpusOnline = 2
    f.cmdline = ["sonde", "record", "--", "worker"]
    f.buildIDs = [BuildIDEntry(cpumode: RecordMisc.user, buildID: Array(1...20), filename: "/bin/worker")]
    let writer = try PerfDataWriter(
      path: path, events: [PerfDataEvent(attributes: attr, ids: [7, 8], name: "cpu-clock")])
    for r in records { try writer.append(r.encode(layout: layout)) }
    try writer.finish(features: f)
    return (records, f)
  }

  @Test func whatTheWriterWritesTheReaderReadsBack() throws {
    let path = NSTemporaryDirectory() + "sonde-rt-\(getpid()).data"
    defer { unlink(path) }
    let (records, features) = try Self.writeSample(to: path)
    let file = try PerfDataFile(path: path)
    #expect(!file.isPipe)
    #expect(file.events.count == 1)
    #expect(file.events[0].ids == [7, 8])
    #expect(file.events[0].name == "cpu-clock")
    #expect(file.events[0].attributes.sample_type == Self.layoutAttr().sample_type)
    #expect(file.features.hostname == features.hostname)
    #expect(file.features.osRelease == features.osRelease)
    #expect(file.features.arch == features.arch)
    #expect(file.features.version == features.version)
    #expect(file.features.cpusAvailable == 4 && file.features.cpusOnline == 2)
    #expect(file.features.cmdline == features.cmdline)
    #expect(file.features.buildIDs == features.buildIDs)
    var decoded: [PerfRecord] = []
    let scan = try file.forEachDecodedRecord { decoded.append($0) }
    #expect(decoded == records)
    #expect(scan.records == records.count && scan.unknownRecords == 0)
  }

  @Test func perfAcceptsTheFileSondeWrote() throws {
    let path = NSTemporaryDirectory() + "sonde-perf-\(getpid()).data"
    defer { unlink(path) }
    _ = try Self.writeSample(to: path)
    let dump = try Self.run(["perf", "report", "-D", "-i", path])
    #expect(dump.status == 0, "\(dump.err)")
    #expect(dump.out.components(separatedBy: "PERF_RECORD_SAMPLE(").count - 1 == 100)
    #expect(dump.out.contains("PERF_RECORD_COMM: worker:42/42"))
    #expect(dump.out.contains("PERF_RECORD_LOST"))
    let header = try Self.run(["perf", "report", "--header-only", "-i", path])
    #expect(header.out.contains("# hostname : testhost"))
    #expect(header.out.contains("# os release : 6.18.0"))
    #expect(header.out.contains("# arch : x86_64"))
    #expect(header.out.contains("# nrcpus online : 2"))
    #expect(header.out.contains("# cmdline : sonde record -- worker"))
    #expect(header.out.contains("name = cpu-clock"))
    let ids = try Self.run(["perf", "buildid-list", "-i", path])
    #expect(ids.out.contains("0102030405060708090a0b0c0d0e0f1011121314 /bin/worker"))
  }

  static func perfRecord(_ extra: [String], output: String) throws -> Bool {
    let demo = TestSupport.demo
    let r = try run(["perf", "record", "-F", "999", "-g"] + extra + ["-o", output, "--", demo, "shares", "300"])
    return r.status == 0
  }

  @Test func filesWrittenByPerfRecordAreRead() throws {
    let path = NSTemporaryDirectory() + "sonde-perfrec-\(getpid()).data"
    defer { unlink(path) }
    #expect(try Self.perfRecord([], output: path))
    let file = try PerfDataFile(path: path)
    #expect(file.events.count >= 1)
    #expect(file.features.arch == "x86_64")
    var samples = 0
    var comms = Set<String>()
    try file.forEachDecodedRecord { r in
      if case .sample(let s) = r.body, !s.callchain.isEmpty { samples += 1 }
      if case .comm(let c) = r.body { comms.insert(c.comm) }
    }
    let dump = try Self.run(["perf", "report", "-D", "-i", path])
    #expect(samples == dump.out.components(separatedBy: "PERF_RECORD_SAMPLE(").count - 1)
    #expect(samples > 200)
    #expect(comms.contains("sonde-demo"))
  }

  @Test func pipeModeStreamsFromPerfAreRead() throws {
    let path = NSTemporaryDirectory() + "sonde-pipe-\(getpid()).data"
    defer { unlink(path) }
    let demo = TestSupport.demo
    let r = try Self.run(["sh", "-c", "perf record -F 999 -g -o - -- \(demo) shares 300 > \(path)"])
    #expect(r.status == 0, "\(r.err)")
    let file = try PerfDataFile(path: path)
    #expect(file.isPipe)
    var samples = 0
    try file.forEachDecodedRecord { if case .sample = $0.body { samples += 1 } }
    #expect(file.events.count >= 1, "HEADER_ATTR records define the events")
    #expect(samples > 200)
  }

  /// Mutations of a valid file: each must either read cleanly or throw `.corruptData` naming a byte
  /// offset — never trap.
  @Test func aCorpusOfCorruptedFilesNeverCrashesTheReader() throws {
    let path = NSTemporaryDirectory() + "sonde-corpus-\(getpid()).data"
    defer { unlink(path) }
    _ = try Self.writeSample(to: path)
    let original = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    var mutants: [(String, [UInt8])] = []
    for cut in stride(from: 0, to: original.count, by: 7) {
      mutants.append(("truncated at \(cut)", Array(original[0..<cut])))
    }
    var wrongMagic = original
    wrongMagic[0] = 0x58
    mutants.append(("wrong magic", wrongMagic))
    var rng = SystemRandomNumberGenerator()
    for i in 0..<400 {
      var m = original
      // Header fields (sizes, offsets), record headers, and random bytes.
      let position = i < 100 ? Int.random(in: 8..<104, using: &rng) : Int.random(in: 0..<m.count, using: &rng)
      m[position] = UInt8.random(in: 0...255, using: &rng)
      if i % 3 == 0 { m[min(position + 1, m.count - 1)] = 0xff }
      mutants.append(("byte \(position)", m))
    }
    // Oversized sizes in specific places: data size, attr_size, every record's size field.
    for (offset, value) in [(16, UInt64.max), (48, UInt64(1) << 40), (40, UInt64(original.count)), (24, 3)] {
      var m = original
      for b in 0..<8 { m[offset + b] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(b))) }
      mutants.append(("field \(offset) = \(value)", m))
    }
    var errors = 0
    for (name, bytes) in mutants {
      do {
        let file = try PerfDataFile(path: name, storage: MappedFile(copying: bytes))
        _ = try file.forEachDecodedRecord { _ in }
      } catch let e as SondeError {
        errors += 1
        #expect(e.kind == .corruptData || e.kind == .notSupported, "\(name): \(e)")
        #expect(e.reason.contains("byte"), "\(name): the error names an offset: \(e)")
      } catch {
        Issue.record("\(name): unexpected error type \(error)")
      }
    }
    #expect(errors > mutants.count / 4)
    let wrong = #expect(throws: SondeError.self) {
      try PerfDataFile(path: "magic", storage: MappedFile(copying: wrongMagic))
    }
    #expect(wrong?.reason.contains("bad magic") == true)
  }

  /// A sparse file can make a feature section claim more bytes than a u32 holds: the length checks compare
  /// in `Int`, where converting the remaining size to `UInt32` used to trap.
  @Test func aFeatureSectionLargerThanFourGiBIsReadWithoutTrapping() throws {
    let path = NSTemporaryDirectory() + "sonde-sparse-\(getpid()).data"
    defer { unlink(path) }
    _ = try Self.writeSample(to: path)
    var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    func u64(_ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) } }
    let table = Int(u64(40) + u64(48))
    let bits = (0..<256).filter { u64(72 + $0 / 64 * 8) & (1 << UInt64($0 % 64)) != 0 }
    let entry = table + 16 * (try #require(bits.firstIndex(of: FeatureID.hostname.rawValue)))
    let huge: UInt64 = 5 << 30
    for b in 0..<8 { bytes[entry + 8 + b] = UInt8(truncatingIfNeeded: huge >> (8 * UInt64(b))) }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    #expect(truncate(path, off_t(u64(entry)) + off_t(huge)) == 0)
    let file = try PerfDataFile(path: path)
    #expect(file.features.hostname == "testhost")
  }

  /// Runs `argv` (a path, or a program on PATH) to completion: status, stdout, stderr.
  static func run(_ argv: [String]) throws -> (status: Int32, out: String, err: String) {
    let output = try TestSupport.run(argv[0], Array(argv.dropFirst()))
    return (output.status, output.stdout, output.stderr)
  }
}
