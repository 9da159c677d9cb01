import Foundation
import Testing

@testable import PerfEvents
@testable import SondeCore
import SondeSystem

/// The record engine driven directly (no CLI): what it writes is time-ordered, attributable and complete.
@Suite(.serialized)
struct RecorderTests {
  static var binPath: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
  }

  static func temp(_ name: String) -> String { NSTemporaryDirectory() + "sonde-rec-\(name)-\(getpid()).data" }

  /// Without -m, rings are 2 MiB per CPU within a 32 MiB set, never below perf's 512 KiB, and a power of two.
  @Test func defaultRingsAreSizedByCPUCount() {
    #expect(RecordRings.defaultDataPages(cpus: 2, pageSize: 4096) == 512)
    #expect(RecordRings.defaultDataPages(cpus: 16, pageSize: 4096) == 512)
    #expect(RecordRings.defaultDataPages(cpus: 24, pageSize: 4096) == 256)
    #expect(RecordRings.defaultDataPages(cpus: 64, pageSize: 4096) == 128)
    #expect(RecordRings.defaultDataPages(cpus: 4096, pageSize: 4096) == 128)
    #expect(RecordRings.defaultDataPages(cpus: 2, pageSize: 65536) == 32)
    #expect(RecordRings.defaultDataPages(cpus: 1024, pageSize: 65536) == 8)
  }

  @Test func aCommandIsRecordedFromExecWithTimeOrderedAttributableRecords() throws {
    var options = RecordOptions()
    options.target = .command([Self.binPath + "/sonde-demo", "selfshares", "300"])
    options.frequency = 999
    options.callGraph = .framePointer
    options.output = Self.temp("cmd")
    defer { unlink(options.output) }
    let result = try Recorder(options: options).run()
    #expect(result.samples >= 240 && result.samples <= 330, "~300 samples at 999 Hz for 0.3 s: \(result.samples)")
    #expect(result.lost == 0)
    #expect(result.commandExitCode == 0)

    let file = try PerfDataFile(path: options.output)
    let ids = Set(file.events.flatMap(\.ids))
    #expect(ids.count == result.rings, "one fd per CPU for one event")
    // perf's ordering protocol (FINISHED_ROUND), which perf's and Sonde's readers sort by: no record of a
    // round is older than the newest record two rounds back.
    var roundNewest: [UInt64] = [0]
    var ordered = true
    var samples = 0
    var execComm = false
    var demoMapped = false
    var unattributed = 0
    var badChains = 0
    try file.forEachDecodedRecord { r in
      if r.type == RecordType.finishedRound {
        roundNewest.append(0)
      } else if r.time != 0 {
        if roundNewest.count >= 3 && r.time < roundNewest[roundNewest.count - 3] { ordered = false }
        roundNewest[roundNewest.count - 1] = max(roundNewest[roundNewest.count - 1], r.time)
      }
      switch r.body {
      case .sample(let s):
        samples += 1
        if !ids.contains(s.identifier) { unattributed += 1 }
        if s.callchain.first != CallchainContext.kernel && s.callchain.first != CallchainContext.user { badChains += 1 }
      case .comm(let c): if c.comm == "sonde-demo" && r.misc & RecordMisc.commExec != 0 { execComm = true }
      case .mmap2(let m): if m.filename.hasSuffix("/sonde-demo") { demoMapped = true }
      default: break
      }
    }
    #expect(ordered, "records follow the FINISHED_ROUND ordering protocol across CPUs")
    #expect(unattributed == 0, "every sample's IDENTIFIER names one of the file's event ids")
    #expect(badChains == 0, "callchains start with a context marker")
    #expect(samples == result.samples)
    #expect(execComm, "the kernel's COMM_EXEC record names the command")
    #expect(demoMapped)

    // The profile built from it attributes the samples to the demo's three functions 50/30/20.
    let session = try ReportSession(path: options.output)
    var report = ReportOptions()
    report.sortKeys = [.symbol]
    let rows = ReportEngine.report(session.resolved, options: report).rows
    let share = { (name: String) in rows.first { $0.symbol == name }?.selfPercent ?? 0 }
    #expect(abs(share("self_hot") - 50) < 6 && abs(share("self_warm") - 30) < 6 && abs(share("self_cool") - 20) < 6)
    #expect(session.profile.threads.allSatisfy { $0.comm == "sonde-demo" })
  }

  @Test func systemWideOnOneCPUSamplesOnlyThatCPU() throws {
    var options = RecordOptions()
    options.target = .systemWide
    options.cpus = [0]
    options.duration = 0.3
    options.frequency = 499
    options.output = Self.temp("cpu0")
    defer { unlink(options.output) }
    let result = try Recorder(options: options).run()
    #expect(result.rings == 1)
    #expect(result.samples > 50)
    let file = try PerfDataFile(path: options.output)
    #expect(SampleType(rawValue: file.events[0].attributes.sample_type).contains(.cpu))
    var cpus = Set<UInt32>()
    try file.forEachDecodedRecord { if case .sample(let s) = $0.body { cpus.insert(s.cpu) } }
    #expect(cpus == [0])
  }

  @Test func aThreadOfARunningProcessIsRecordedWithSynthesizedSideBand() throws {
    let target = Process()
    target.executableURL = URL(fileURLWithPath: Self.binPath + "/sonde-demo")
    target.arguments = ["spin", "2000"]
    try target.run()
    defer { target.terminate() }
    usleep(100_000)
    var options = RecordOptions()
    options.target = .threads([target.processIdentifier])
    options.duration = 0.4
    options.frequency = 499
    options.output = Self.temp("tid")
    defer { unlink(options.output) }
    // cpu-clock samples fire only while the thread runs: bound them by the CPU time it got (schedstat), not by
    // the wall clock, since it shares the CPUs with the rest of the suite.
    func onCPUSeconds() -> Double {
      let text = (try? String(contentsOfFile: "/proc/\(target.processIdentifier)/schedstat", encoding: .utf8)) ?? "0"
      return (Double(text.split(separator: " ").first ?? "0") ?? 0) / 1e9
    }
    let before = onCPUSeconds()
    let result = try Recorder(options: options).run()
    let ran = onCPUSeconds() - before
    #expect(result.samples > 0)
    #expect(
      Double(result.samples) >= ran * 499 * 0.5,
      "\(result.samples) samples for \(ran) s on CPU at 499 Hz")
    let session = try ReportSession(path: options.output)
    #expect(session.profile.threads.map(\.comm) == ["sonde-demo"])
    #expect(session.profile.mappings.contains { $0.path.hasSuffix("/sonde-demo") })
    var filtered = ProfileLoader()
    filtered.comms = ["nothing-by-this-name"]
    let (empty, _) = try filtered.load(session.file)
    #expect(empty.sampleCount == 0)
    filtered = ProfileLoader()
    filtered.pids = [target.processIdentifier]
    #expect(try filtered.load(session.file).0.sampleCount == UInt64(result.samples))
  }

  @Test func unknownEventsAndMissingProcessesAreExplainedErrors() throws {
    var options = RecordOptions()
    options.events = ["no-such-event"]
    options.target = .systemWide
    options.output = Self.temp("bad")
    let e1 = #expect(throws: SondeError.self) { try Recorder(options: options).run() }
    #expect(e1?.kind == .invalidInput)
    options.events = ["cpu-clock"]
    options.target = .processes([999_999_999])
    let e2 = #expect(throws: SondeError.self) { try Recorder(options: options).run() }
    #expect(e2?.kind == .noSuchProcess)
    options.target = .command(["/nonexistent/program"])
    let e3 = #expect(throws: SondeError.self) { try Recorder(options: options).run() }
    #expect(e3?.kind == .invalidInput)
  }
}

/// Pure helpers of the profile loader.
struct ProfileLoaderTests {
  @Test func callchainsSplitAtTheirContextMarkers() {
    var s = Sample()
    s.callchain = [
      CallchainContext.kernel, 0xffff_ffff_8100_0001, 0xffff_ffff_8100_0002, CallchainContext.user, 0x401000,
    ]
    let stack = ProfileLoader.stack(s, misc: RecordMisc.kernel)
    #expect(stack.kernel == [0xffff_ffff_8100_0001, 0xffff_ffff_8100_0002])
    #expect(stack.user == [0x401000])
    var bare = Sample()
    bare.ip = 0x1234
    #expect(ProfileLoader.stack(bare, misc: RecordMisc.user).user == [0x1234])
    #expect(ProfileLoader.stack(bare, misc: RecordMisc.kernel).kernel == [0x1234])
  }

  @Test func theUserIPComesFromTheSampledRegistersByMaskPosition() {
    var s = Sample()
    // The DWARF-mode mask (ax…r15 without segment registers): IP (bit 8) is the 9th value.
    s.regsUser = SampledRegisters(abi: 2, values: (0..<20).map { UInt64($0) * 100 })
    #expect(ProfileLoader.userIP(s, mask: SamplingAttributes.x86UserRegisterMask) == 800)
    #expect(ProfileLoader.userIP(s, mask: 0b1_0000_0001) == 100, "IP after one lower register")
    #expect(ProfileLoader.userIP(s, mask: 0xff) == nil, "IP not sampled")
    s.regsUser = SampledRegisters()
    #expect(ProfileLoader.userIP(s, mask: SamplingAttributes.x86UserRegisterMask) == nil, "abi none")
  }
}

/// Files written by perf are ordered per round and per CPU buffer, not globally: the loader must apply
/// side-band records in timestamp order, as perf's ordered-events queue does.
struct TimeOrderTests {
  @Test func aSampleStoredBeforeTheExecCommButTakenAfterItGetsTheNewName() throws {
    var attr = try #require(try EventParser().parseEvent("cpu-clock").first?.attributes())
    SamplingAttributes.configureSampling(
      &attr, frequency: 999, period: nil, callGraph: .none, trackSideBand: true, systemWide: false)
    let layout = SampleLayout(attr)
    let path = NSTemporaryDirectory() + "sonde-order-\(getpid()).data"
    defer { unlink(path) }
    let writer = try PerfDataWriter(path: path, events: [PerfDataEvent(attributes: attr, ids: [1], name: "cpu-clock")])
    var early = SampleID()
    early.time = 100
    var sample = Sample()
    (sample.identifier, sample.ip, sample.pid, sample.tid, sample.time, sample.period) = (1, 0x10, 7, 7, 200, 1)
    let records = [
      PerfRecord(type: RecordType.comm, body: .comm(CommRecord(pid: 7, tid: 7, comm: "launcher"))),
      PerfRecord(type: RecordType.sample, misc: RecordMisc.user, body: .sample(sample)),
      PerfRecord(
        type: RecordType.comm, misc: RecordMisc.commExec, body: .comm(CommRecord(pid: 7, tid: 7, comm: "app")),
        sampleID: early),
    ]
    for r in records { try writer.append(r.encode(layout: layout)) }
    try writer.finish(features: PerfDataFeatures())
    let (profile, _) = try ProfileLoader().load(try PerfDataFile(path: path))
    #expect(profile.threads.map(\.comm) == ["app"])
  }
}

/// Tracepoints through the event parser: every hit is a sample, and RAW carries the tracefs record.
struct TracepointRecordTests {
  @Test func everyGetpidIsOneSampleWhoseRawRecordNamesTheSyscall() throws {
    let format = try #require(readSmallFile("/sys/kernel/tracing/events/syscalls/sys_enter_getpid/format"))
    let id = try #require(
      format.split(separator: "\n").first { $0.hasPrefix("ID:") }.flatMap {
        UInt16($0.dropFirst(3).trimmingWhitespace())
      })
    var options = RecordOptions()
    options.events = ["syscalls:sys_enter_getpid"]
    options.target = .command([RecorderTests.binPath + "/sonde-demo", "getpid", "500"])
    options.output = NSTemporaryDirectory() + "sonde-tp-\(getpid()).data"
    defer { unlink(options.output) }
    let result = try Recorder(options: options).run()
    #expect(result.samples == 500, "period 1: one sample per getpid")
    let file = try PerfDataFile(path: options.output)
    var raws: [[UInt8]] = []
    try file.forEachDecodedRecord { if case .sample(let s) = $0.body { raws.append(s.raw) } }
    #expect(raws.count == 500)
    // common_type (u16 at 0) is the tracepoint id; __syscall_nr (int at 8) is getpid's number, 39 on x86-64.
    let types = Set(raws.map { $0.count >= 2 ? UInt16($0[0]) | UInt16($0[1]) << 8 : 0 })
    let numbers = Set(raws.map { $0.count >= 12 ? Int32(bitPattern: UInt32($0[8]) | UInt32($0[9]) << 8) : -1 })
    #expect(types == [id])
    #expect(numbers == [39])
  }
}
