import Foundation
import PerfEvents
import SondeTestSupport
import Testing
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Semantic mutation tests of `sonde report` and `sonde script`: perf.data files whose *structure* is valid
/// (every record's size is right, a multiple of 8 and below 64 KiB; header, attrs and feature sections are
/// what Sonde's own writer produces) but whose *values* are hostile — periods and lost counts that overflow
/// any sum, callchains of thousands of frames or of nothing but context markers, ids that name no event,
/// pids of -1, time running backwards or stuck at UInt64.max, mappings of FIFOs, devices, directories and
/// absurd paths or address ranges, records in orders no kernel would write, and floods of tiny records.
///
/// Byte-level corruption is specified elsewhere (PerfDataTests' corpus); this suite is about what a reader
/// does with well-formed data it should not trust. Sonde runs as root on files other people produced, so
/// for every mutant and every output mode the CLI must end on its own within 15 s, not be killed by a
/// signal (a Swift trap is SIGILL/SIGTRAP), exit 0, or 1 with an `error:` message, keep its stdout under
/// 64 MB and its peak RSS under 400 MB. A hang (the classic: opening a FIFO named by an MMAP2 blocks until
/// a writer appears), a trap or a blow-up fails the suite. Every failure is reported, not only the first,
/// each with the case, the mode and how the run ended; the failing inputs are kept in the temporary
/// directory named in the report so they can be replayed by hand.
///
/// The base profile is built in code (no recording, no randomness from the system): one cpu-clock event
/// configured by `SamplingAttributes` with a frame-pointer call graph, COMM/FORK/MMAP2 records for one
/// process of three threads mapping `/bin/true` and a non-ELF file, 300 samples with 2–10-frame user
/// callchains (a tenth with a kernel part), LOST and EXIT records. Mutants derive from it with a seeded
/// SplitMix64, so a failing case name reproduces the same bytes. Each mutant runs in one of six modes,
/// rotating by case index; the cases most likely to hang or blow up run in all six.
@Suite struct SemanticPerfDataMutationTests {
  @Test func numericMutantsNeverHangTrapOrBlowUp() throws {
    let sonde = try SemanticMutation.sondePath()
    let directory = try TestSupport.temporaryDirectory("semantic-numeric")
    let library = try SemanticMutation.makeLibrary(in: directory)
    let mutants = SemanticMutation.numericMutants(binary: SemanticMutation.binary, library: library)
    var campaign = SemanticMutation.Campaign(directory: directory, sonde: sonde)
    campaign.run(mutants)
    campaign.finish(minimumRuns: 150)
  }

  @Test func fileTypeAndOrderingMutantsNeverHangTrapOrBlowUp() throws {
    let sonde = try SemanticMutation.sondePath()
    let directory = try TestSupport.temporaryDirectory("semantic-structural")
    let library = try SemanticMutation.makeLibrary(in: directory)
    let odd = try SemanticMutation.makeOddFiles(in: directory)
    let mutants = SemanticMutation.structuralMutants(binary: SemanticMutation.binary, library: library, odd: odd)
    var campaign = SemanticMutation.Campaign(directory: directory, sonde: sonde)
    campaign.run(mutants)
    campaign.finish(minimumRuns: 120)
  }
}

/// The mutation engine: the base profile, the record builders, the mutant families and the runner.
enum SemanticMutation {
  // MARK: - Limits every run must respect

  static let timeoutSeconds = 15.0
  static let stdoutLimitBytes = 64 << 20
  static let maxRSSKilobytes = 400 * 1024

  // MARK: - The CLI invocations

  /// The output modes; a mutant runs in `Mode.allCases[index % 6]` unless it names its modes.
  enum Mode: Int, CaseIterable, Sendable {
    case report, calleeGraphBySymbol, callerGraphWithChildren, folded, flamegraph, script

    func argv(sonde: String, input: String, svg: String) -> [String] {
      switch self {
      case .report: [sonde, "report", "-i", input]
      case .calleeGraphBySymbol: [sonde, "report", "-i", input, "--no-children", "-g", "--sort", "sym"]
      case .callerGraphWithChildren: [sonde, "report", "-i", input, "--children", "--call-graph", "caller"]
      case .folded: [sonde, "report", "-i", input, "--folded"]
      case .flamegraph: [sonde, "report", "-i", input, "--flamegraph", svg]
      case .script: [sonde, "script", "-i", input]
      }
    }

    var label: String {
      switch self {
      case .report: "report"
      case .calleeGraphBySymbol: "report --no-children -g --sort sym"
      case .callerGraphWithChildren: "report --children --call-graph caller"
      case .folded: "report --folded"
      case .flamegraph: "report --flamegraph"
      case .script: "script"
      }
    }
  }

  // MARK: - Mutants

  /// Part of a mutant's data section: a record Sonde's encoder frames, or whole records framed by hand.
  enum Chunk {
    case record(PerfRecord)
    case raw([UInt8])
  }

  struct Mutant {
    /// Cases of one family share a failure mode; after one of them hangs the rest are skipped.
    var family: String
    var name: String
    var events: [PerfDataEvent]
    var chunks: [Chunk]
    /// nil: one mode, rotating by case index.
    var modes: [Mode]? = nil
    /// The unmutated baseline: must exit 0 and print something.
    var mustSucceed = false
  }

  /// The suite's deterministic generator (SplitMix64), so every mutant is the same on every run.
  typealias SplitMix64 = SeededGenerator

  // MARK: - The base profile

  static let eventID: UInt64 = 7
  static let pid: UInt32 = 4242
  static let tids: [UInt32] = [4242, 4243, 4244]
  static let t0: UInt64 = 1_000_000_000_000
  static let binaryStart: UInt64 = 0x5555_5555_0000
  static let binaryLength: UInt64 = 0x10_0000
  static let libraryStart: UInt64 = 0x7f12_3400_0000
  static let libraryLength: UInt64 = 0x1_0000
  static let kernelStart: UInt64 = 0xffff_ffff_8100_0000
  static let sampleCount = 300
  static let markers: [UInt64] = [
    CallchainContext.hypervisor, CallchainContext.kernel, CallchainContext.user, CallchainContext.guest,
    CallchainContext.guestKernel, CallchainContext.guestUser, CallchainContext.max,
  ]

  /// A real, small ELF executable to map.
  static var binary: String {
    FileManager.default.fileExists(atPath: "/bin/true") ? "/bin/true" : "/usr/bin/true"
  }

  static func sondePath() throws -> String {
    var path = TestSupport.sonde
    if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
    try #require(FileManager.default.isExecutableFile(atPath: path), "sonde is not built at \(path)")
    return path
  }

  /// A regular file that is not an ELF image: the base profile's second mapping.
  static func makeLibrary(in directory: String) throws -> String {
    let path = directory + "/libmutant.so"
    let text = Array(String(repeating: "not an ELF image, only text\n", count: 160).utf8)
    try #require(FileManager.default.createFile(atPath: path, contents: Data(text)), "cannot create \(path)")
    return path
  }

  static func sampleTime(_ i: Int) -> UInt64 { t0 + UInt64(i) * 1_000_000 }
  static func binaryAddress(_ k: Int) -> UInt64 { binaryStart + 0x1100 + UInt64(k % 32) * 0x1c0 }
  static func libraryAddress(_ k: Int) -> UInt64 { libraryStart + 0x400 + UInt64(k % 8) * 0x80 }

  /// A user callchain of 2–10 frames (leaf first; the outermost in the library), sometimes after a
  /// kernel part.
  static func baseChain(_ rng: inout SplitMix64, kernel: Bool) -> [UInt64] {
    var chain: [UInt64] = []
    if kernel {
      chain += [CallchainContext.kernel, kernelStart + 0x1234 + UInt64(rng.below(64)) * 0x40, kernelStart + 0x9_0000]
    }
    chain.append(CallchainContext.user)
    let depth = 2 + rng.below(9)
    for _ in 0..<(depth - 1) { chain.append(binaryAddress(rng.below(32))) }
    chain.append(libraryAddress(rng.below(8)))
    return chain
  }

  /// One cpu-clock event as `sonde record -F 999 -g` configures it: IDENTIFIER|IP|TID|TIME|PERIOD|CALLCHAIN,
  /// sample_id_all, side-band tracking.
  static func cpuClock(ids: [UInt64] = [7], name: String = "cpu-clock") -> PerfDataEvent {
    var attr = SamplingAttributes.dummy()
    attr.type = 1  // PERF_TYPE_SOFTWARE
    attr.config = 0  // PERF_COUNT_SW_CPU_CLOCK
    SamplingAttributes.configureSampling(
      &attr, frequency: 999, period: nil, callGraph: .framePointer, trackSideBand: true, systemWide: false)
    return PerfDataEvent(attributes: attr, ids: ids, name: name)
  }

  static func features() -> PerfDataFeatures {
    var f = PerfDataFeatures()
    f.hostname = "mutant-host"
    // Not this kernel: kernel frames stay unresolved and /proc/kallsyms is not read.
    f.osRelease = "0.0.0-semantic-mutant"
    f.version = "sonde semantic mutation test"
    #if arch(arm64)
      f.arch = "aarch64"
    #else
      f.arch = "x86_64"
    #endif
    f.cpusAvailable = 2
    f.cpusOnline = 2
    f.cmdline = ["sonde", "record", "-g", "--", "mutant"]
    return f
  }

  /// The profile every mutant starts from, split so mutations can address its parts.
  struct Base {
    var events: [PerfDataEvent]
    /// COMM, FORK and MMAP2 records, before the samples.
    var header: [PerfRecord]
    var samples: [PerfRecord]
    /// LOST and EXIT records, after the samples.
    var tail: [PerfRecord]
    /// FINISHED_ROUND after every this many samples (0: none).
    var roundEvery = 64
    /// FINISHED_ROUND after every header record too.
    var roundsInHeader = false
    /// The header goes after the samples in the file.
    var sideBandLast = false

    func chunks(
      replacingHeader: [Int: [UInt8]] = [:], replacingSample: [Int: [UInt8]] = [:],
      insertingBeforeSample: [Int: [Chunk]] = [:]
    ) -> [Chunk] {
      var head: [Chunk] = []
      for (i, r) in header.enumerated() {
        head.append(replacingHeader[i].map { Chunk.raw($0) } ?? Chunk.record(r))
        if roundsInHeader { head.append(Chunk.record(SemanticMutation.finishedRound())) }
      }
      var body: [Chunk] = []
      for (i, r) in samples.enumerated() {
        if let extra = insertingBeforeSample[i] { body += extra }
        body.append(replacingSample[i].map { Chunk.raw($0) } ?? Chunk.record(r))
        if roundEvery > 0 && (i + 1) % roundEvery == 0 { body.append(Chunk.record(SemanticMutation.finishedRound())) }
      }
      if let extra = insertingBeforeSample[samples.count] { body += extra }
      var out = sideBandLast ? body + head : head + body
      for r in tail { out.append(Chunk.record(r)) }
      return out
    }

    func mutant(
      _ family: String, _ name: String, modes: [Mode]? = nil, replacingHeader: [Int: [UInt8]] = [:],
      replacingSample: [Int: [UInt8]] = [:], inserting: [Int: [Chunk]] = [:]
    ) -> Mutant {
      Mutant(
        family: family, name: name, events: events,
        chunks: chunks(
          replacingHeader: replacingHeader, replacingSample: replacingSample, insertingBeforeSample: inserting),
        modes: modes)
    }

    func withSamples(_ f: (Int, inout Sample) -> Void) -> Base {
      var c = self
      for i in c.samples.indices {
        guard case .sample(var s) = c.samples[i].body else { continue }
        f(i, &s)
        c.samples[i].body = .sample(s)
      }
      return c
    }

    func withSampleRecords(_ f: (Int, inout PerfRecord) -> Void) -> Base {
      var c = self
      for i in c.samples.indices { f(i, &c.samples[i]) }
      return c
    }

    func withHeader(_ f: (Int, inout PerfRecord) -> Void) -> Base {
      var c = self
      for i in c.header.indices { f(i, &c.header[i]) }
      return c
    }

    func withTail(_ f: (Int, inout PerfRecord) -> Void) -> Base {
      var c = self
      for i in c.tail.indices { f(i, &c.tail[i]) }
      return c
    }

    /// Inserts records among the samples (before sample `index`).
    func inserting(_ records: [PerfRecord], atSample index: Int) -> Base {
      var c = self
      c.samples.insert(contentsOf: records, at: min(max(index, 0), c.samples.count))
      return c
    }

    /// Changes every MMAP2 of `path` in the header.
    func withMapping(of path: String, _ f: (inout MmapRecord) -> Void) -> Base {
      withHeader { _, r in
        if case .mmap2(var m) = r.body, m.filename == path {
          f(&m)
          r.body = .mmap2(m)
        }
      }
    }

    func sampleValue(_ i: Int) -> Sample {
      if case .sample(let s) = samples[i].body { return s }
      return Sample()
    }

    /// The index of the header's MMAP2 of `path`.
    func headerIndex(ofMapping path: String) -> Int? {
      header.firstIndex { r in
        if case .mmap2(let m) = r.body { return m.filename == path }
        return false
      }
    }
  }

  static func makeBase(binary: String, library: String) -> Base {
    var rng = SplitMix64(seed: 0x5EED_BA5E)
    let leader = tids[0]
    var header: [PerfRecord] = []
    header.append(comm(pid: pid, tid: leader, "mutant-main", time: t0 - 3000, exec: true))
    header.append(mmap2(pid: pid, start: binaryStart, length: binaryLength, path: binary, time: t0 - 2900))
    header.append(mmap2(pid: pid, start: libraryStart, length: libraryLength, path: library, time: t0 - 2800))
    for (i, tid) in tids.dropFirst().enumerated() {
      let t = t0 - 2000 + UInt64(i) * 10
      header.append(task(RecordType.fork, pid: pid, ppid: pid, tid: tid, ptid: leader, time: t))
      header.append(comm(pid: pid, tid: tid, "mutant-worker-\(i)", time: t + 1))
    }
    var samples: [PerfRecord] = []
    for i in 0..<sampleCount {
      let kernel = i % 10 == 3
      let time = sampleTime(i) + UInt64(rng.below(1000))
      let period = 900_000 + UInt64(rng.below(200_000))
      let chain = baseChain(&rng, kernel: kernel)
      samples.append(
        sample(
          tid: tids[i % tids.count], time: time, period: period, chain: chain,
          misc: kernel ? RecordMisc.kernel : RecordMisc.user))
    }
    let end = sampleTime(sampleCount) + 5000
    var tail = [lost(3, time: end)]
    for tid in tids.reversed() {
      tail.append(task(RecordType.exit, pid: pid, ppid: pid, tid: tid, ptid: leader, time: end + 10))
    }
    return Base(events: [cpuClock()], header: header, samples: samples, tail: tail)
  }

  // MARK: - Record builders (Sonde's encoder)

  static func trailer(pid: UInt32, tid: UInt32, time: UInt64, id: UInt64 = 7) -> SampleID {
    var t = SampleID()
    t.pid = pid
    t.tid = tid
    t.time = time
    t.id = id
    t.identifier = id
    return t
  }

  static func sample(
    pid: UInt32 = 4242, tid: UInt32, time: UInt64, period: UInt64, chain: [UInt64], id: UInt64 = 7,
    misc: UInt16 = RecordMisc.user
  ) -> PerfRecord {
    var s = Sample()
    s.identifier = id
    s.id = id
    s.pid = pid
    s.tid = tid
    s.time = time
    s.period = period
    setChain(&s, chain)
    return PerfRecord(type: RecordType.sample, misc: misc, body: .sample(s))
  }

  /// Sets the callchain and the IP (its first address, as the kernel writes it).
  static func setChain(_ s: inout Sample, _ chain: [UInt64]) {
    s.callchain = chain
    s.ip = chain.first { !CallchainContext.isMarker($0) } ?? s.ip
  }

  static func comm(pid: UInt32, tid: UInt32, _ name: String, time: UInt64, exec: Bool = false) -> PerfRecord {
    PerfRecord(
      type: RecordType.comm, misc: exec ? RecordMisc.commExec : 0,
      body: .comm(CommRecord(pid: pid, tid: tid, comm: name)), sampleID: trailer(pid: pid, tid: tid, time: time))
  }

  static func mmap2(
    pid: UInt32, start: UInt64, length: UInt64, pgoff: UInt64 = 0, path: String, time: UInt64,
    buildID: [UInt8]? = nil, misc: UInt16 = RecordMisc.user
  ) -> PerfRecord {
    var m = MmapRecord(pid: pid, tid: pid, address: start, length: length, pageOffset: pgoff, filename: path)
    m.major = 8
    m.minor = 1
    m.inode = 1_234_567
    m.protection = 5  // PROT_READ | PROT_EXEC
    m.flags = 2  // MAP_PRIVATE
    m.buildID = buildID
    return PerfRecord(
      type: RecordType.mmap2, misc: buildID == nil ? misc : misc | RecordMisc.mmapBuildID, body: .mmap2(m),
      sampleID: trailer(pid: pid, tid: pid, time: time))
  }

  static func task(_ type: UInt32, pid: UInt32, ppid: UInt32, tid: UInt32, ptid: UInt32, time: UInt64) -> PerfRecord {
    let t = TaskRecord(pid: pid, ppid: ppid, tid: tid, ptid: ptid, time: time)
    return PerfRecord(
      type: type, body: type == RecordType.exit ? .exit(t) : .fork(t), sampleID: trailer(pid: pid, tid: tid, time: time)
    )
  }

  static func lost(_ count: UInt64, time: UInt64, id: UInt64 = 7) -> PerfRecord {
    PerfRecord(
      type: RecordType.lost, body: .lost(id: id, count: count),
      sampleID: trailer(pid: pid, tid: pid, time: time, id: id))
  }

  static func lostSamples(_ count: UInt64, time: UInt64) -> PerfRecord {
    PerfRecord(
      type: RecordType.lostSamples, body: .lostSamples(count), sampleID: trailer(pid: pid, tid: pid, time: time))
  }

  static func finishedRound() -> PerfRecord { PerfRecord(type: RecordType.finishedRound, body: .other([])) }

  /// A kernel side-band record of any body, with the base layout's trailer.
  static func sideBand(_ type: UInt32, misc: UInt16 = 0, _ body: PerfRecord.Body, time: UInt64) -> PerfRecord {
    PerfRecord(type: type, misc: misc, body: body, sampleID: trailer(pid: pid, tid: pid, time: time))
  }

  /// Sets a record's timestamp wherever it carries one.
  static func setTime(_ r: inout PerfRecord, _ time: UInt64) {
    switch r.body {
    case .sample(var s):
      s.time = time
      r.body = .sample(s)
    case .fork(var t):
      t.time = time
      r.body = .fork(t)
    case .exit(var t):
      t.time = time
      r.body = .exit(t)
    default: break
    }
    r.sampleID.time = time
  }

  /// Sets every pid and tid a record carries.
  static func setPIDs(_ r: inout PerfRecord, _ v: UInt32) {
    switch r.body {
    case .sample(var s):
      s.pid = v
      s.tid = v
      r.body = .sample(s)
    case .comm(var c):
      c.pid = v
      c.tid = v
      r.body = .comm(c)
    case .mmap2(var m):
      m.pid = v
      m.tid = v
      r.body = .mmap2(m)
    case .mmap(var m):
      m.pid = v
      m.tid = v
      r.body = .mmap(m)
    case .fork(var t):
      (t.pid, t.ppid, t.tid, t.ptid) = (v, v, v, v)
      r.body = .fork(t)
    case .exit(var t):
      (t.pid, t.ppid, t.tid, t.ptid) = (v, v, v, v)
      r.body = .exit(t)
    default: break
    }
    r.sampleID.pid = v
    r.sampleID.tid = v
  }

  /// Encodes records into one chunk (for floods, so mutants stay small in memory).
  static func block(_ records: [PerfRecord]) -> Chunk {
    let layout = SampleLayout(cpuClock().attributes)
    var bytes: [UInt8] = []
    for r in records { bytes.append(contentsOf: r.encode(layout: layout)) }
    return .raw(bytes)
  }

  // MARK: - Record builders (by hand, for values the encoder cannot express)

  struct LEBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ v: UInt16) { put(UInt64(v), 2) }
    mutating func u32(_ v: UInt32) { put(UInt64(v), 4) }
    mutating func u64(_ v: UInt64) { put(v, 8) }
    mutating func put(_ v: UInt64, _ width: Int) {
      for i in 0..<width { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }
    mutating func pad8() { while bytes.count % 8 != 0 { bytes.append(0) } }
  }

  /// A whole record: header with its true size, the body zero-padded to 8, then (for kernel records) the
  /// base layout's sample_id_all trailer: pid, tid, time, identifier.
  static func raw(type: UInt32, misc: UInt16 = 0, body: [UInt8], trailer: (pid: UInt32, tid: UInt32, time: UInt64)?)
    -> [UInt8]
  {
    var w = LEBytes()
    w.u32(type)
    w.u16(misc)
    w.u16(0)
    w.bytes.append(contentsOf: body)
    w.pad8()
    if let trailer {
      w.u32(trailer.pid)
      w.u32(trailer.tid)
      w.u64(trailer.time)
      w.u64(eventID)
    }
    let size = w.bytes.count
    w.bytes[6] = UInt8(truncatingIfNeeded: size)
    w.bytes[7] = UInt8(truncatingIfNeeded: size >> 8)
    return w.bytes
  }

  /// A SAMPLE in the base layout (identifier, ip, pid/tid, time, period, callchain) whose callchain `nr`
  /// is whatever the caller says, followed by `entries`.
  static func rawSample(tid: UInt32, time: UInt64, nr: UInt64, entries: [UInt64]) -> [UInt8] {
    var w = LEBytes()
    w.u64(eventID)
    w.u64(entries.first { !CallchainContext.isMarker($0) } ?? binaryAddress(0))
    w.u32(pid)
    w.u32(tid)
    w.u64(time)
    w.u64(1_001_001)
    w.u64(nr)
    for e in entries { w.u64(e) }
    return raw(type: RecordType.sample, misc: RecordMisc.user, body: w.bytes, trailer: nil)
  }

  /// An MMAP2 whose filename is arbitrary bytes (NUL-terminated unless `terminate` is false), optionally
  /// in the build-id form with a claimed id size.
  static func rawMmap2(
    pid: UInt32, start: UInt64, length: UInt64, pgoff: UInt64 = 0, filename: [UInt8], terminate: Bool = true,
    time: UInt64, buildIDSize: UInt8? = nil
  ) -> [UInt8] {
    var w = LEBytes()
    w.u32(pid)
    w.u32(pid)
    w.u64(start)
    w.u64(length)
    w.u64(pgoff)
    if let buildIDSize {
      w.bytes.append(buildIDSize)
      w.bytes.append(contentsOf: [0, 0, 0])
      w.bytes.append(contentsOf: [UInt8](repeating: 0xab, count: 20))
    } else {
      w.u32(8)
      w.u32(1)
      w.u64(1_234_567)
      w.u64(0)
    }
    w.u32(5)
    w.u32(2)
    w.bytes.append(contentsOf: filename)
    if terminate { w.bytes.append(0) }
    let misc = RecordMisc.user | (buildIDSize == nil ? 0 : RecordMisc.mmapBuildID)
    return raw(type: RecordType.mmap2, misc: misc, body: w.bytes, trailer: (pid, pid, time))
  }

  static func rawComm(tid: UInt32, name: [UInt8], terminate: Bool = true, time: UInt64) -> [UInt8] {
    var w = LEBytes()
    w.u32(pid)
    w.u32(tid)
    w.bytes.append(contentsOf: name)
    if terminate { w.bytes.append(0) }
    return raw(type: RecordType.comm, body: w.bytes, trailer: (pid, tid, time))
  }

  // MARK: - Writing a mutant

  /// Why a chunk's framing is not valid (nil when every record's size is right and a multiple of 8).
  static func framingProblem(_ bytes: [UInt8]) -> String? {
    var offset = 0
    while offset < bytes.count {
      guard bytes.count - offset >= 8 else { return "\(bytes.count - offset) stray bytes at \(offset)" }
      let size = Int(bytes[offset + 6]) | Int(bytes[offset + 7]) << 8
      guard size >= 8, size % 8 == 0, size <= bytes.count - offset else {
        return "record at \(offset) has size \(size) with \(bytes.count - offset) bytes left"
      }
      offset += size
    }
    return nil
  }

  /// Writes the mutant as a file-mode perf.data; returns a framing problem of the mutant itself (a bug
  /// in this test) instead of writing a file that is not the structurally valid input the suite promises.
  static func write(_ m: Mutant, to path: String) throws -> String? {
    let layouts = m.events.map { SampleLayout($0.attributes) }
    let fallback = layouts.first ?? SampleLayout(cpuClock().attributes)
    var byID: [UInt64: SampleLayout] = [:]
    for (e, layout) in zip(m.events, layouts) {
      for id in e.ids where byID[id] == nil { byID[id] = layout }
    }
    let writer = try PerfDataWriter(path: path, events: m.events)
    for (i, chunk) in m.chunks.enumerated() {
      let bytes: [UInt8]
      switch chunk {
      case .record(let r):
        var layout = fallback
        if case .sample(let s) = r.body, let l = byID[s.eventID] { layout = l }
        bytes = r.encode(layout: layout)
        if bytes.count > Int(UInt16.max) { return "chunk \(i): a type-\(r.type) record of \(bytes.count) bytes" }
      case .raw(let b):
        bytes = b
      }
      if let problem = framingProblem(bytes) { return "chunk \(i): \(problem)" }
      try writer.append(bytes)
    }
    try writer.finish(features: features())
    return nil
  }

  // MARK: - Running and judging

  static func fileSize(_ path: String) -> Int? {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : nil
  }

  static func signalName(_ s: Int32) -> String {
    switch s {
    case 4: "SIGILL, a Swift trap"
    case 5: "SIGTRAP, a Swift trap"
    case 6: "SIGABRT"
    case 7: "SIGBUS"
    case 8: "SIGFPE"
    case 9: "SIGKILL, perhaps the OOM killer"
    case 11: "SIGSEGV"
    case 13: "SIGPIPE"
    default: "signal \(s)"
    }
  }

  /// Everything wrong with one run (empty: it behaved).
  static func problems(_ r: BoundedRun.Result, mode: Mode, svg: String, mustSucceed: Bool) -> [String] {
    var p: [String] = []
    if r.timedOut { p.append("hung: killed after \(Int(timeoutSeconds)) s") }
    if r.outputTooLarge { p.append("wrote more than \(stdoutLimitBytes >> 20) MB: killed") }
    if let s = r.signal, !r.timedOut, !r.outputTooLarge { p.append("killed by \(signalName(s))") }
    if let status = r.status {
      if status != 0 && status != 1 { p.append("exit status \(status) (expected 0, or 1 with an error)") }
      if status == 1 && !r.stderr.contains("error:") { p.append("exit 1 without an 'error:' message") }
      if mustSucceed && status != 0 { p.append("the unmutated profile must be accepted") }
      if status == 0 && mode == .flamegraph {
        if let size = fileSize(svg) {
          if size > stdoutLimitBytes { p.append("a flame graph of \(size >> 20) MB") }
        } else {
          p.append("exit 0 but no flame graph written")
        }
      }
      if mustSucceed && status == 0 && mode != .flamegraph && r.stdoutBytes == 0 { p.append("printed nothing") }
    }
    if r.maxRSSKilobytes > maxRSSKilobytes {
      p.append("peak RSS \(r.maxRSSKilobytes >> 10) MB (limit \(maxRSSKilobytes >> 10) MB)")
    }
    return p
  }

  static func excerpt(_ text: String, _ limit: Int = 400) -> String {
    let flat = text.replacingOccurrences(of: "\n", with: " ⏎ ")
    return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
  }

  /// Runs mutants, collecting every failure.
  struct Campaign {
    let directory: String
    let sonde: String
    var failures: [String] = []
    var runs = 0
    var statuses: [String: Int] = [:]
    var hungFamilies: Set<String> = []
    var skipped: [String: Int] = [:]
    var kept = 0

    init(directory: String, sonde: String) {
      self.directory = directory
      self.sonde = sonde
    }

    mutating func run(_ mutants: [Mutant]) {
      for (index, m) in mutants.enumerated() {
        let modes = m.modes ?? [Mode.allCases[index % Mode.allCases.count]]
        if hungFamilies.contains(m.family) {
          skipped[m.family, default: 0] += modes.count
          continue
        }
        let input = directory + "/case-\(index).data"
        let svg = directory + "/case-\(index).svg"
        do {
          if let problem = try SemanticMutation.write(m, to: input) {
            failures.append("[\(m.family)] \(m.name): the mutant is mis-framed, a bug in this test: \(problem)")
            unlink(input)
            continue
          }
        } catch {
          failures.append("[\(m.family)] \(m.name): cannot write the mutant: \(error)")
          continue
        }
        var keep = false
        for mode in modes {
          if hungFamilies.contains(m.family) {
            skipped[m.family, default: 0] += 1
            continue
          }
          unlink(svg)
          runs += 1
          let argv = mode.argv(sonde: sonde, input: input, svg: svg)
          let result: BoundedRun.Result
          do {
            result = try BoundedRun.run(
              argv, timeoutSeconds: SemanticMutation.timeoutSeconds,
              stdoutLimitBytes: SemanticMutation.stdoutLimitBytes)
          } catch {
            failures.append("[\(m.family)] \(m.name) — `\(mode.label)`: cannot run sonde: \(error)")
            keep = true
            continue
          }
          let ended = result.status.map { "exit \($0)" } ?? result.signal.map { "signal \($0)" } ?? "?"
          statuses[ended, default: 0] += 1
          let problems = SemanticMutation.problems(result, mode: mode, svg: svg, mustSucceed: m.mustSucceed)
          if !problems.isEmpty {
            keep = true
            if result.timedOut { hungFamilies.insert(m.family) }
            failures.append(
              "[\(m.family)] \(m.name) — `\(mode.label)`: \(problems.joined(separator: "; ")). \(result). "
                + "Replay: \(argv.joined(separator: " ")). stderr: \(SemanticMutation.excerpt(result.stderr))")
          }
        }
        unlink(svg)
        if keep { kept += 1 } else { unlink(input) }
      }
    }

    /// Records every failure as its own issue, and removes the directory when nothing failed.
    func finish(minimumRuns: Int) {
      for f in failures { Issue.record("\(f)") }
      for (family, count) in skipped.sorted(by: { $0.key < $1.key }) {
        Issue.record("[\(family)] \(count) more run(s) skipped: an earlier case of this family hung")
      }
      let summary = statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
      #expect(runs >= minimumRuns, "only \(runs) runs (\(summary))")
      if failures.isEmpty && skipped.isEmpty {
        try? FileManager.default.removeItem(atPath: directory)
      } else {
        Issue.record(
          "\(failures.count) failure(s) in \(runs) runs (\(summary)); \(kept) failing input(s) kept in \(directory)")
      }
    }
  }

  // MARK: - Numeric mutants: periods, lost counts, callchains, ids, pids, times, floods

  static func numericMutants(binary: String, library: String) -> [Mutant] {
    let b = makeBase(binary: binary, library: library)
    var out: [Mutant] = []
    out.append(
      Mutant(
        family: "baseline", name: "the unmutated base profile", events: b.events, chunks: b.chunks(),
        modes: Mode.allCases, mustSucceed: true))
    out += periodMutants(b)
    out += lostMutants(b)
    out += deepChainMutants(b)
    out += markerChainMutants(b)
    out += uniqueStackMutants(b)
    out += lyingCountMutants(b)
    out += chainSoupMutants(b)
    out += sampleIDMutants(b)
    out += pidMutants(b)
    out += timeMutants(b)
    out += fieldSoupMutants(b)
    out += floodMutants(b)
    return out
  }

  static func periodMutants(_ b: Base) -> [Mutant] {
    let half: UInt64 = 1 << 63
    var out: [Mutant] = []
    out.append(b.withSamples { i, s in if i < 2 { s.period = half } }.mutant("period", "PERIOD 2^63 on two samples"))
    out.append(
      b.withSamples { i, s in if i < 2 { s.period = .max } }.mutant("period", "PERIOD UInt64.max on two samples"))
    out.append(
      b.withSamples { i, s in
        if i < 2 { s.period = half } else if i < 4 { s.period = .max }
      }.mutant("period", "PERIOD 2^63 on two samples and UInt64.max on two more"))
    out.append(b.withSamples { _, s in s.period = .max }.mutant("period", "PERIOD UInt64.max on every sample"))
    out.append(b.withSamples { _, s in s.period = half }.mutant("period", "PERIOD 2^63 on every sample"))
    out.append(b.withSamples { _, s in s.period = 0 }.mutant("period", "PERIOD 0 on every sample"))
    out.append(
      b.withSamples { i, s in if i % 2 == 0 { s.period = 0 } }.mutant("period", "PERIOD 0 on every other sample"))
    out.append(
      b.withSamples { i, s in s.period = i == sampleCount - 1 ? .max : 1 }.mutant(
        "period", "PERIOD 1 on every sample but UInt64.max on the last"))
    let chain0 = b.sampleValue(0).callchain
    out.append(
      b.withSamples { i, s in
        if i < 2 {
          s.period = .max
          setChain(&s, chain0)
        }
      }.mutant("period", "PERIOD UInt64.max on two samples of one stack"))
    out.append(
      b.withSamples { i, s in
        if i < 2 {
          s.period = i == 0 ? UInt64.max - 1 : 2
          setChain(&s, chain0)
        }
      }.mutant("period", "PERIODs UInt64.max - 1 and 2 on one stack (overflow by exactly one)"))
    out.append(
      b.withSamples { _, s in s.period = UInt64.max / UInt64(sampleCount) }.mutant(
        "period", "PERIODs summing to just below UInt64.max"))
    out.append(
      b.withSamples { _, s in if s.tid == tids[1] { s.period = .max } }.mutant(
        "period", "PERIOD UInt64.max on every sample of one thread"))
    let hostile: [UInt64] = [0, 1, UInt64(UInt32.max), 1 << 32, (1 << 63) - 1, 1 << 63, UInt64.max - 1, .max]
    var rng = SplitMix64(seed: 0x9E41_0D00)
    for v in 0..<16 {
      var picks: [Int: UInt64] = [:]
      for _ in 0..<(2 + rng.below(40)) { picks[rng.below(sampleCount)] = rng.pick(hostile) }
      let chosen = picks
      out.append(
        b.withSamples { i, s in if let p = chosen[i] { s.period = p } }.mutant(
          "period", "random hostile PERIODs #\(v) on \(chosen.count) samples (seed 0x9E410D00)"))
    }
    return out
  }

  static func lostMutants(_ b: Base) -> [Mutant] {
    let mid = sampleTime(150) + 2000
    let half: UInt64 = 1 << 63
    var out: [Mutant] = []
    out.append(
      b.inserting([lost(.max, time: mid), lost(.max, time: mid + 1)], atSample: 150).mutant(
        "lost", "LOST of UInt64.max, twice"))
    out.append(b.inserting([lost(.max, time: mid)], atSample: 150).mutant("lost", "LOST of UInt64.max, once"))
    out.append(
      b.inserting([lostSamples(.max, time: mid), lostSamples(.max, time: mid + 1)], atSample: 150).mutant(
        "lost", "LOST_SAMPLES of UInt64.max, twice"))
    out.append(
      b.inserting((0..<3).map { lostSamples(half, time: mid + UInt64($0)) }, atSample: 150).mutant(
        "lost", "LOST_SAMPLES of 2^63, three times"))
    out.append(
      b.inserting(
        [
          lost(.max, time: mid), lostSamples(.max, time: mid + 1), lost(.max, time: mid + 2),
          lostSamples(.max, time: mid + 3),
        ],
        atSample: 150
      ).mutant("lost", "LOST and LOST_SAMPLES of UInt64.max, twice each"))
    out.append(
      b.inserting((0..<100).map { lost(1 << 62, time: mid + UInt64($0)) }, atSample: 150).mutant(
        "lost", "LOST of 2^62, a hundred times"))
    out.append(b.inserting([lost(0, time: mid)], atSample: 150).mutant("lost", "LOST of 0"))
    out.append(
      b.inserting([lost(.max, time: mid, id: 999), lost(.max, time: mid + 1, id: 999)], atSample: 150).mutant(
        "lost", "LOST of UInt64.max twice, for an event id no attr has"))
    var first = b
    first.header.insert(lost(.max, time: 0), at: 0)
    first.header.insert(lost(.max, time: 0), at: 0)
    out.append(first.mutant("lost", "LOST of UInt64.max twice, before any other record"))
    out.append(
      b.withSamples { _, s in s.period = .max }.inserting([lostSamples(.max, time: mid)], atSample: 150).mutant(
        "lost", "LOST_SAMPLES of UInt64.max and PERIOD UInt64.max on every sample"))
    out.append(
      b.inserting([lost(.max, time: .max), lost(.max, time: .max)], atSample: 150).mutant(
        "lost", "LOST of UInt64.max twice at time UInt64.max"))
    var between = b
    between.samples = []
    for (i, r) in b.samples.enumerated() {
      between.samples.append(r)
      between.samples.append(lost(.max, time: sampleTime(i) + 1500))
    }
    out.append(between.mutant("lost", "LOST of UInt64.max after every sample"))
    let counts: [UInt64] = [.max, UInt64.max - 1, half, 1 << 62, UInt64(UInt32.max) + 1]
    var rng = SplitMix64(seed: 0x1057_0000)
    for v in 0..<6 {
      var records: [PerfRecord] = []
      for _ in 0..<(1 + rng.below(20)) {
        let time = sampleTime(rng.below(sampleCount)) + 1500
        records.append(rng.chance(50) ? lost(rng.pick(counts), time: time) : lostSamples(rng.pick(counts), time: time))
      }
      out.append(
        b.inserting(records, atSample: 100).mutant(
          "lost", "random huge LOST/LOST_SAMPLES #\(v): \(records.count) records (seed 0x10570000)"))
    }
    return out
  }

  /// Replaces the callchains of 40 samples (every 7th) with generated ones.
  static func withChains(_ b: Base, _ chains: [[UInt64]]) -> Base {
    b.withSamples { i, s in
      if i % 7 == 0 && i / 7 < chains.count {
        s.period = 1_000_000
        setChain(&s, chains[i / 7])
      }
    }
  }

  /// 40 chains built by `frame(k, j)` for sample k's j-th frame, after a leading PERF_CONTEXT_USER.
  static func userChains(frames: Int, _ frame: (Int, Int) -> UInt64) -> [[UInt64]] {
    var chains: [[UInt64]] = []
    for k in 0..<40 {
      var chain: [UInt64] = [CallchainContext.user]
      chain.reserveCapacity(frames + 1)
      for j in 0..<frames { chain.append(frame(k, j)) }
      chains.append(chain)
    }
    return chains
  }

  static func deepChainMutants(_ b: Base) -> [Mutant] {
    let user = CallchainContext.user
    var out: [Mutant] = []
    let distinct = userChains(frames: 8000) { k, j in
      let slot = UInt64((k * 8000 + j) % 0xf000)
      return binaryStart + 0x1000 + slot * 16
    }
    out.append(
      withChains(b, distinct).mutant(
        "deep-chain", "40 samples with 8,000-frame chains of distinct addresses", modes: Mode.allCases))
    let recursion = userChains(frames: 8000) { _, _ in binaryAddress(3) }
    out.append(
      withChains(b, recursion).mutant(
        "deep-chain", "40 samples with 8,000 frames of one address (deep recursion)", modes: Mode.allCases))
    // 8 (header) + 40 (identifier, ip, pid/tid, time, period) + 8 (nr) + 8 × 8,184 entries = 65,528 bytes:
    // the most a u16 record size allows.
    let largest = userChains(frames: 8183) { k, j in binaryAddress(k + j) }
    out.append(
      withChains(b, largest).mutant("deep-chain", "40 samples with 8,184-entry chains, the most a record holds"))
    let mutual = userChains(frames: 8000) { _, j in binaryAddress(j % 2 == 0 ? 1 : 2) }
    out.append(withChains(b, mutual).mutant("deep-chain", "40 samples with 8,000 frames of mutual recursion"))
    let marked = userChains(frames: 8000) { k, j in j % 10 == 0 ? user : binaryAddress(k * 3 + j) }
    out.append(withChains(b, marked).mutant("deep-chain", "40 samples with 8,000-entry chains, a marker every 10th"))
    var kernelHalf: [[UInt64]] = []
    for k in 0..<40 {
      var chain: [UInt64] = [CallchainContext.kernel]
      for j in 0..<4000 { chain.append(kernelStart + UInt64((k + j) % 4096) * 64) }
      chain.append(user)
      for j in 0..<3999 { chain.append(binaryAddress(k + j)) }
      kernelHalf.append(chain)
    }
    out.append(withChains(b, kernelHalf).mutant("deep-chain", "40 samples with 4,000 kernel and 4,000 user frames"))
    let scattered = userChains(frames: 8000) { k, j in
      switch j % 3 {
      case 0: return libraryAddress(j)
      case 1: return binaryAddress(k + j)
      default: return 0x1000 + UInt64(j) * 4096
      }
    }
    out.append(
      withChains(b, scattered).mutant(
        "deep-chain", "40 samples with 8,000 frames across both mappings and unmapped memory"))
    return out
  }

  static func markerChainMutants(_ b: Base) -> [Mutant] {
    var out: [Mutant] = []
    func all(_ chain: [UInt64]) -> Base { b.withSamples { _, s in s.callchain = chain } }
    out.append(all([CallchainContext.user]).mutant("marker-chain", "chains of only PERF_CONTEXT_USER"))
    out.append(
      all([CallchainContext.kernel, CallchainContext.user]).mutant(
        "marker-chain", "chains of PERF_CONTEXT_KERNEL then PERF_CONTEXT_USER"))
    out.append(all(markers).mutant("marker-chain", "chains of every context marker"))
    var onlyMarkers: [UInt64] = []
    for j in 0..<8000 { onlyMarkers.append(markers[j % markers.count]) }
    let eightThousand = onlyMarkers
    out.append(
      b.withSamples { i, s in
        s.callchain = i % 7 == 0 ? eightThousand : [CallchainContext.user]
      }.mutant("marker-chain", "chains of 8,000 context markers"))
    var markerRange: [UInt64] = []
    for j in 0..<4095 { markerRange.append(CallchainContext.max + UInt64(j)) }
    let range = markerRange
    out.append(
      b.withSamples { i, s in s.callchain = i % 7 == 0 ? range : [CallchainContext.guestUser] }.mutant(
        "marker-chain", "chains of every value from PERF_CONTEXT_MAX to UInt64.max"))
    out.append(all([]).mutant("marker-chain", "empty callchains (nr 0): the IP stands alone"))
    out.append(
      b.withSampleRecords { _, r in
        r.misc = RecordMisc.kernel
        guard case .sample(var s) = r.body else { return }
        s.callchain = []
        s.ip = 0
        r.body = .sample(s)
      }.mutant("marker-chain", "empty callchains, IP 0, kernel cpumode"))
    out.append(
      all([CallchainContext.user, CallchainContext.kernel, CallchainContext.guest]).mutant(
        "marker-chain", "chains ending in markers that switch context with no frames"))
    return out
  }

  /// A user chain of `depth` distinct addresses in the binary, the `n`-th such chain.
  static func distinctChain(_ n: Int, depth: Int) -> [UInt64] {
    var chain: [UInt64] = [CallchainContext.user]
    for j in 0..<depth {
      let slot = UInt64((n * depth + j) % 0xf000)
      chain.append(binaryStart + 0x1000 + slot * 16)
    }
    return chain
  }

  static func uniqueStackMutants(_ b: Base) -> [Mutant] {
    let user = CallchainContext.user
    var out: [Mutant] = []
    out.append(
      b.withSamples { i, s in setChain(&s, distinctChain(i, depth: 10)) }.mutant(
        "unique-stacks", "every frame of every sample a distinct address"))
    func generated(_ count: Int, depth: Int) -> Base {
      var c = b
      c.samples = []
      for i in 0..<count {
        let time = t0 + UInt64(i) * 100_000
        c.samples.append(
          sample(tid: tids[i % 3], time: time, period: 1_000_000, chain: distinctChain(i, depth: depth)))
      }
      return c
    }
    out.append(generated(5000, depth: 10).mutant("unique-stacks", "5,000 samples with distinct 10-frame stacks"))
    out.append(generated(2000, depth: 100).mutant("unique-stacks", "2,000 samples with distinct 100-frame stacks"))
    var rng = SplitMix64(seed: 0xADD5_0000)
    var randomUser: [[UInt64]] = []
    var randomAny: [[UInt64]] = []
    for _ in 0..<sampleCount {
      var userChain: [UInt64] = [user]
      var anyChain: [UInt64] = []
      for _ in 0..<10 {
        userChain.append(rng.next() & 0x0000_7fff_ffff_ffff)
        anyChain.append(rng.next())
      }
      randomUser.append(userChain)
      randomAny.append(anyChain)
    }
    let userPicks = randomUser
    let anyPicks = randomAny
    out.append(
      b.withSamples { i, s in setChain(&s, userPicks[i]) }.mutant(
        "unique-stacks", "random addresses across the user address space (seed 0xADD50000)"))
    out.append(
      b.withSamples { i, s in setChain(&s, anyPicks[i]) }.mutant(
        "unique-stacks", "random 64-bit chain entries, markers by chance (seed 0xADD50000)"))
    out.append(
      b.withSamples { i, s in
        var chain: [UInt64] = [user]
        for j in 1...10 { chain.append(CallchainContext.max - UInt64(j + i % 7)) }
        setChain(&s, chain)
      }.mutant("unique-stacks", "addresses just below PERF_CONTEXT_MAX"))
    out.append(
      b.withSamples { i, s in setChain(&s, [user, UInt64(i % 2), 0, 1, 0]) }.mutant(
        "unique-stacks", "addresses 0 and 1"))
    let edges: [UInt64] = [
      user, binaryStart, binaryStart + binaryLength - 1, binaryStart + binaryLength, libraryStart - 1, libraryStart,
      libraryStart + libraryLength - 1, libraryStart + libraryLength,
    ]
    out.append(
      b.withSamples { _, s in setChain(&s, edges) }.mutant("unique-stacks", "addresses at the edges of each mapping"))
    out.append(
      b.withSamples { i, s in
        let chain: [UInt64] = [user, kernelStart + UInt64(i) * 16, UInt64.max - 4096, 0x8000_0000_0000_0000]
        setChain(&s, chain)
      }.mutant("unique-stacks", "kernel-half addresses in the user part of the chain"))
    return out
  }

  /// Samples whose callchain `nr` disagrees with the entries that follow it (the record size is right).
  static func lyingCountMutants(_ b: Base) -> [Mutant] {
    func userFrames(_ n: Int) -> [UInt64] {
      var chain: [UInt64] = [CallchainContext.user]
      for j in 0..<n { chain.append(binaryAddress(j)) }
      return chain
    }
    let five = userFrames(4)
    let cases: [(String, UInt64, [UInt64])] = [
      ("callchain nr one more than the entries present", 6, five),
      ("callchain nr UInt64.max", .max, five),
      ("callchain nr 2^61 (nr × 8 wraps to 0)", 1 << 61, five),
      ("callchain nr 2^61 + 1 (nr × 8 wraps to 8)", (1 << 61) + 1, five),
      ("callchain nr 2^63", 1 << 63, five),
      ("callchain nr 2^32 + 5 (5 in 32 bits)", (1 << 32) + 5, five),
      ("callchain nr 0 with five entries after it", 0, five),
      ("callchain nr 1 with 100 entries after it", 1, userFrames(99)),
      ("callchain nr 8,190 with 8,180 entries present", 8190, userFrames(8179)),
    ]
    var out: [Mutant] = []
    for (name, nr, entries) in cases {
      var replace: [Int: [UInt8]] = [:]
      for i in stride(from: 7, to: sampleCount, by: 15) {
        replace[i] = rawSample(tid: tids[i % 3], time: sampleTime(i) + 1, nr: nr, entries: entries)
      }
      out.append(b.mutant("lying-nr", name + " (20 samples)", replacingSample: replace))
    }
    return out
  }

  static func chainSoupMutants(_ b: Base) -> [Mutant] {
    let oddFrames: [UInt64] = [
      0, 1, .max, CallchainContext.max, CallchainContext.kernel, CallchainContext.guest, kernelStart,
      binaryStart + binaryLength, libraryStart - 1, 0x7fff_ffff_f000,
    ]
    var rng = SplitMix64(seed: 0xC4A1_5009)
    var out: [Mutant] = []
    for v in 0..<10 {
      var chains: [Int: [UInt64]] = [:]
      for i in 0..<sampleCount {
        if !rng.chance(30) { continue }
        var chain = b.sampleValue(i).callchain
        switch rng.below(6) {
        case 0: chain.insert(rng.pick(markers), at: rng.below(chain.count + 1))
        case 1: if !chain.isEmpty { chain[rng.below(chain.count)] = rng.pick(oddFrames) }
        case 2:
          let copy = chain
          chain.append(contentsOf: copy)
        case 3: chain.reverse()
        case 4: chain = Array(chain.prefix(rng.below(chain.count + 1)))
        default: chain.removeAll { CallchainContext.isMarker($0) }
        }
        chains[i] = chain
      }
      let chosen = chains
      out.append(
        b.withSamples { i, s in if let c = chosen[i] { s.callchain = c } }.mutant(
          "chain-soup", "random chain edits #\(v) on \(chosen.count) samples (seed 0xC4A15009)"))
    }
    return out
  }

  static func sampleIDMutants(_ b: Base) -> [Mutant] {
    func ids(_ f: (Int) -> UInt64) -> Base {
      b.withSamples { i, s in
        s.identifier = f(i)
        s.id = s.identifier
      }
    }
    var out: [Mutant] = []
    out.append(ids { _ in 0 }.mutant("sample-id", "every sample id 0"))
    out.append(ids { _ in 999 }.mutant("sample-id", "every sample id 999, which no attr has"))
    out.append(ids { _ in .max }.mutant("sample-id", "every sample id UInt64.max"))
    out.append(ids { i in i % 2 == 0 ? 8 : 7 }.mutant("sample-id", "every other sample id 8, which no attr has"))
    let cycle: [UInt64] = [0, 7, 8, .max]
    out.append(ids { i in cycle[i % 4] }.mutant("sample-id", "sample ids cycling 0, 7, 8, UInt64.max"))
    out.append(
      b.withHeader { _, r in r.sampleID.identifier = 999 }.withTail { _, r in r.sampleID.identifier = 999 }.mutant(
        "sample-id", "side-band trailers naming id 999"))
    out.append(
      ids { _ in .max }.withHeader { _, r in r.sampleID.identifier = .max }.withTail { _, r in
        r.sampleID.identifier = .max
      }.mutant("sample-id", "every record's id UInt64.max"))
    var noIDs = b
    noIDs.events = [cpuClock(ids: [])]
    out.append(noIDs.mutant("sample-id", "samples of id 7 but the attr lists no ids"))
    return out
  }

  static func pidMutants(_ b: Base) -> [Mutant] {
    let values: [(String, UInt32)] = [("0", 0), ("-1", .max), ("Int32.max", 0x7fff_ffff), ("Int32.min", 0x8000_0000)]
    var out: [Mutant] = []
    for (label, v) in values {
      out.append(
        b.withSamples { _, s in
          s.pid = v
          s.tid = v
        }.mutant("pid-tid", "sample pid and tid \(label)"))
      out.append(b.withSamples { _, s in s.tid = v }.mutant("pid-tid", "sample tid \(label), pid unchanged"))
      out.append(
        b.withSampleRecords { _, r in setPIDs(&r, v) }.withHeader { _, r in setPIDs(&r, v) }.withTail { _, r in
          setPIDs(&r, v)
        }.mutant("pid-tid", "every record's pid and tid \(label)"))
    }
    out.append(
      b.withHeader { _, r in
        if case .mmap2(var m) = r.body {
          m.pid = .max
          m.tid = .max
          r.body = .mmap2(m)
        }
      }.mutant("pid-tid", "mappings for pid -1 only, samples for pid 4242"))
    out.append(
      b.withSamples { i, s in
        s.pid = values[i % 4].1
        s.tid = values[(i / 4) % 4].1
      }.mutant("pid-tid", "sample pid and tid cycling through every hostile value"))
    var comms = b
    comms.header += [
      comm(pid: .max, tid: .max, "minus-one", time: t0 - 10), comm(pid: 0, tid: 0, "zero", time: t0 - 9),
    ]
    out.append(
      comms.withSamples { i, s in if i % 3 == 0 { s.tid = i % 2 == 0 ? 0 : .max } }.mutant(
        "pid-tid", "COMMs for tids 0 and -1, and samples of them"))
    return out
  }

  static func timeMutants(_ b: Base) -> [Mutant] {
    let half: UInt64 = 1 << 63
    var out: [Mutant] = []
    out.append(
      b.withSamples { i, s in s.time = sampleTime(sampleCount - i) }.mutant(
        "time", "time going backwards: every sample earlier than the one before"))
    out.append(b.withSamples { _, s in s.time = t0 }.mutant("time", "every sample at the same time"))
    out.append(b.withSamples { _, s in s.time = 0 }.mutant("time", "every sample at time 0 (before its COMM and MMAP)"))
    out.append(
      b.withSampleRecords { _, r in setTime(&r, 0) }.withHeader { _, r in setTime(&r, 0) }.withTail { _, r in
        setTime(&r, 0)
      }.mutant("time", "every timestamp 0"))
    out.append(b.withSamples { _, s in s.time = .max }.mutant("time", "every sample at time UInt64.max"))
    out.append(b.withSamples { i, s in if i == 150 { s.time = .max } }.mutant("time", "one sample at time UInt64.max"))
    out.append(
      b.withSampleRecords { _, r in setTime(&r, .max) }.withHeader { _, r in setTime(&r, .max) }.withTail { _, r in
        setTime(&r, .max)
      }.mutant("time", "every timestamp UInt64.max"))
    out.append(
      b.withSamples { i, s in s.time = i % 2 == 0 ? 0 : .max }.mutant(
        "time", "sample times alternating 0 and UInt64.max"))
    out.append(
      b.withHeader { i, r in setTime(&r, sampleTime(sampleCount) + 1_000_000 + UInt64(i)) }.mutant(
        "time", "side-band timestamped after every sample"))
    out.append(
      b.withSamples { i, s in if i >= 150 { s.time = s.time &- half } }.mutant(
        "time", "time jumping back by 2^63 halfway (wrapping)"))
    var rng = SplitMix64(seed: 0x71AE_0000)
    var order = Array(0..<sampleCount)
    for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
    let shuffled = order
    out.append(
      b.withSamples { i, s in s.time = sampleTime(shuffled[i]) }.mutant(
        "time", "sample times shuffled (seed 0x71AE0000)"))
    out.append(
      b.withHeader { _, r in
        if case .fork(var t) = r.body {
          t.time = .max
          r.body = .fork(t)
          r.sampleID.time = 0
        }
      }.withTail { _, r in
        if case .exit(var t) = r.body {
          t.time = .max
          r.body = .exit(t)
          r.sampleID.time = 0
        }
      }.mutant("time", "FORK and EXIT times UInt64.max with trailer times 0"))
    out.append(
      b.withSamples { i, s in s.time = UInt64.max - UInt64(sampleCount) + UInt64(i) }.mutant(
        "time", "sample times in the last 300 ns before UInt64.max"))
    let odd: [UInt64] = [0, 1, .max, UInt64.max - 1, half, half - 1]
    for v in 0..<8 {
      var picks: [Int: UInt64] = [:]
      for _ in 0..<(5 + rng.below(60)) { picks[rng.below(sampleCount)] = rng.chance(70) ? rng.pick(odd) : rng.next() }
      let chosen = picks
      out.append(
        b.withSamples { i, s in if let t = chosen[i] { s.time = t } }.mutant(
          "time", "random hostile times #\(v) on \(chosen.count) samples (seed 0x71AE0000)"))
    }
    return out
  }

  static func fieldSoupMutants(_ b: Base) -> [Mutant] {
    let hostile: [UInt64] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1 << 32, 1 << 63, UInt64.max - 1, .max]
    var rng = SplitMix64(seed: 0x50_0F00)
    var out: [Mutant] = []
    for v in 0..<16 {
      var edits: [Int: (field: Int, value: UInt64)] = [:]
      for _ in 0..<(10 + rng.below(50)) { edits[rng.below(sampleCount)] = (rng.below(6), rng.pick(hostile)) }
      let chosen = edits
      out.append(
        b.withSamples { i, s in
          guard let e = chosen[i] else { return }
          switch e.field {
          case 0: s.pid = UInt32(truncatingIfNeeded: e.value)
          case 1: s.tid = UInt32(truncatingIfNeeded: e.value)
          case 2: s.time = e.value
          case 3: s.period = e.value
          case 4: s.identifier = e.value
          default: s.ip = e.value
          }
        }.mutant("field-soup", "random hostile sample fields #\(v) on \(chosen.count) samples (seed 0x500F00)"))
    }
    return out
  }

  /// Huge numbers of small records: each must take bounded time and memory.
  static func floodMutants(_ b: Base) -> [Mutant] {
    let user = CallchainContext.user
    let at = sampleTime(150) + 2000
    var out: [Mutant] = []
    var rounds = [UInt8]()
    rounds.reserveCapacity(200_000 * 8)
    for _ in 0..<200_000 { rounds.append(contentsOf: [68, 0, 0, 0, 0, 0, 8, 0]) }
    out.append(b.mutant("flood", "200,000 FINISHED_ROUND records", inserting: [150: [.raw(rounds)]]))
    out.append(
      b.mutant(
        "flood", "50,000 COMM records renaming one thread",
        inserting: [150: [block((0..<50_000).map { comm(pid: pid, tid: pid, "rename-\($0 % 977)", time: at) })]]))
    out.append(
      b.mutant(
        "flood", "10,000 MMAP2 records over the binary's range",
        inserting: [
          0: [
            block(
              (0..<10_000).map {
                mmap2(
                  pid: pid, start: binaryStart + UInt64($0 % 16) * 0x1000, length: binaryLength,
                  path: $0 % 2 == 0 ? "/nonexistent/lib\($0).so" : binary, time: t0 - 100)
              })
          ]
        ]))
    out.append(
      b.mutant(
        "flood", "50,000 one-frame samples",
        inserting: [
          150: [
            block(
              (0..<50_000).map { i in
                sample(tid: tids[i % 3], time: at + UInt64(i), period: 1_000, chain: [user, binaryAddress(i)])
              })
          ]
        ]))
    out.append(
      b.mutant(
        "flood", "30,000 LOST records of one each",
        inserting: [150: [block((0..<30_000).map { _ in lost(1, time: at) })]]))
    out.append(
      b.mutant(
        "flood", "20,000 FORKs, each thread forking the next",
        inserting: [
          150: [
            block(
              (0..<20_000).map { i in
                task(
                  RecordType.fork, pid: pid, ppid: pid, tid: 10_000 + UInt32(i) + 1, ptid: 10_000 + UInt32(i), time: at)
              })
          ]
        ]))
    out.append(
      b.mutant(
        "flood", "100,000 records of unknown type 60",
        inserting: [150: [block((0..<100_000).map { _ in sideBand(60, .other([]), time: at) })]]))
    var threads: [PerfRecord] = []
    var rng = SplitMix64(seed: 0x7EAD_0000)
    for i in 0..<20_000 {
      let tid = 100_000 + UInt32(i)
      threads.append(comm(pid: pid, tid: tid, "thread-\(i)", time: at + UInt64(i) * 2))
      threads.append(
        sample(tid: tid, time: at + UInt64(i) * 2 + 1, period: 1_000, chain: baseChain(&rng, kernel: false)))
    }
    out.append(b.mutant("flood", "20,000 distinct threads, one sample each", inserting: [150: [block(threads)]]))
    return out
  }

  // MARK: - Structural mutants: odd mapped files, odd mappings, odd orders, odd records, odd events

  /// Files of odd types in the test's directory, for MMAP2 records to name.
  struct OddFiles {
    var fifo: String
    var fifoLink: String
    var directory: String
    var loop: String
    var empty: String
    var zeros: String
  }

  static func makeOddFiles(in directory: String) throws -> OddFiles {
    let odd = OddFiles(
      fifo: directory + "/mutant.fifo", fifoLink: directory + "/fifo-link.so", directory: directory + "/a-directory.so",
      loop: directory + "/loop.so", empty: directory + "/empty.so", zeros: directory + "/zeros.so")
    try #require(mkfifo(odd.fifo, 0o644) == 0, "mkfifo \(odd.fifo): errno \(errno)")
    try #require(symlink(odd.fifo, odd.fifoLink) == 0, "symlink \(odd.fifoLink): errno \(errno)")
    try #require(mkdir(odd.directory, 0o755) == 0, "mkdir \(odd.directory): errno \(errno)")
    try #require(symlink(odd.loop, odd.loop) == 0, "symlink \(odd.loop): errno \(errno)")
    try #require(FileManager.default.createFile(atPath: odd.empty, contents: Data()))
    try #require(FileManager.default.createFile(atPath: odd.zeros, contents: Data(count: 1 << 20)))
    return odd
  }

  static func structuralMutants(binary: String, library: String, odd: OddFiles) -> [Mutant] {
    let b = makeBase(binary: binary, library: library)
    var out: [Mutant] = []
    out += mappedFileMutants(b, binary: binary, library: library, odd: odd)
    out += mappingRangeMutants(b, binary: binary)
    out += orderMutants(b)
    out += oddRecordMutants(b)
    out += eventMutants(b)
    return out
  }

  static func mappedFileMutants(_ b: Base, binary: String, library: String, odd: OddFiles) -> [Mutant] {
    var out: [Mutant] = []
    func mapped(_ path: String) -> Base { b.withMapping(of: binary) { $0.filename = path } }
    // The ones that can block or never end: every mode.
    let everyMode: [(String, String)] = [
      ("a FIFO", odd.fifo), ("/dev/zero", "/dev/zero"), ("/dev/null", "/dev/null"), ("/dev/tty", "/dev/tty"),
      ("a directory", odd.directory),
    ]
    for (label, path) in everyMode {
      out.append(mapped(path).mutant("mmap-file:\(label)", "the binary's MMAP2 names \(label)", modes: Mode.allCases))
    }
    let rotating: [(String, String)] = [
      ("a symlink to the FIFO", odd.fifoLink), ("/dev/urandom", "/dev/urandom"), ("/dev/full", "/dev/full"),
      ("/dev/stdin", "/dev/stdin"), ("/proc/self/fd/0", "/proc/self/fd/0"), ("/proc/kcore", "/proc/kcore"),
      ("/proc/self/pagemap", "/proc/self/pagemap"), ("/proc/self/mem", "/proc/self/mem"),
      ("a path that does not exist", odd.directory + "/does/not/exist.so"), ("an empty path", ""),
      ("a 4,000-character path component", "/" + String(repeating: "a", count: 3999)),
      ("a 4,000-character path of short components", String(repeating: "/ab", count: 1333)),
      ("a 5,000-character path, beyond PATH_MAX", String(repeating: "/abcd", count: 1000)),
      ("//anon", "//anon"), ("[vdso]", "[vdso]"), ("[heap]", "[heap]"), ("[stack]", "[stack]"),
      ("anon_inode:[perf_event]", "anon_inode:[perf_event]"), ("a relative path", "bin/true"),
      ("the binary with a trailing slash", binary + "/"), ("a symlink loop", odd.loop),
      ("an empty regular file", odd.empty), ("a megabyte of zeros", odd.zeros),
      ("a path with a newline, ';', '<svg>', '&' and quotes", odd.directory + "/odd\nname;<svg>&\"'.so"),
    ]
    for (label, path) in rotating {
      out.append(mapped(path).mutant("mmap-file:\(label)", "the binary's MMAP2 names \(label)"))
    }
    // The FIFO as a second mapping that half the samples' leaves fall in.
    let fifoStart: UInt64 = 0x7f55_0000_0000
    var second = b.withSamples { i, s in
      if i % 2 == 0 && !s.callchain.isEmpty {
        var chain = s.callchain
        if let leaf = chain.firstIndex(where: { !CallchainContext.isMarker($0) && $0 < kernelStart }) {
          chain[leaf] = fifoStart + 0x1000 + UInt64(i) * 16
        }
        setChain(&s, chain)
      }
    }
    second.header.append(mmap2(pid: pid, start: fifoStart, length: 0x10_0000, path: odd.fifo, time: t0 - 2700))
    out.append(
      second.mutant("mmap-file:a FIFO", "a second MMAP2 of the FIFO, half the leaves in it", modes: [.script, .folded]))
    out.append(
      b.withMapping(of: library) { $0.filename = odd.fifoLink }.mutant(
        "mmap-file:a symlink to the FIFO", "the library's MMAP2 names a symlink to the FIFO"))
    // Filenames the String-based encoder cannot write.
    if let index = b.headerIndex(ofMapping: binary) {
      let nonUTF8: [UInt8] = Array("/tmp/".utf8) + [0xff, 0xfe, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80] + Array(".so".utf8)
      out.append(
        b.mutant(
          "mmap-file:raw filename", "an MMAP2 filename of invalid UTF-8",
          replacingHeader: [
            index: rawMmap2(pid: pid, start: binaryStart, length: binaryLength, filename: nonUTF8, time: t0 - 2900)
          ]))
      // 64 bytes of fixed fields, then exactly 16 filename bytes and no NUL: the body ends 8-aligned.
      out.append(
        b.mutant(
          "mmap-file:raw filename", "an MMAP2 filename without a NUL terminator",
          replacingHeader: [
            index: rawMmap2(
              pid: pid, start: binaryStart, length: binaryLength, filename: Array("/bin/true-xxxxxx".utf8),
              terminate: false, time: t0 - 2900)
          ]))
      out.append(
        b.mutant(
          "mmap-file:raw filename", "an MMAP2 filename of NUL then more bytes",
          replacingHeader: [
            index: rawMmap2(
              pid: pid, start: binaryStart, length: binaryLength, filename: [0] + Array(binary.utf8), time: t0 - 2900)
          ]))
    }
    return out
  }

  /// Moves every chain address that lies in the base binary's range to the same offset from `start`.
  static func retarget(_ b: Base, to start: UInt64) -> Base {
    let end = binaryStart + binaryLength
    return b.withSamples { _, s in
      var moved: [UInt64] = []
      for a in s.callchain {
        if a >= binaryStart && a < end {
          moved.append(start &+ (a - binaryStart))
        } else {
          moved.append(a)
        }
      }
      setChain(&s, moved)
    }
  }

  static func mappingRangeMutants(_ b: Base, binary: String) -> [Mutant] {
    var out: [Mutant] = []
    func mapping(_ name: String, start: UInt64, length: UInt64, pgoff: UInt64 = 0, retargetTo: UInt64? = nil) {
      let moved = b.withMapping(of: binary) { m in
        m.address = start
        m.length = length
        m.pageOffset = pgoff
      }
      out.append(retarget(moved, to: retargetTo ?? start).mutant("mmap-range", name))
    }
    mapping("start + length overflowing u64", start: 0xffff_ffff_ffff_0000, length: 0x20_0000)
    mapping("a user start whose length wraps past UInt64.max", start: 0x7fff_ffff_0000, length: .max)
    mapping("length 0", start: binaryStart, length: 0)
    mapping("start 0, length UInt64.max (covering everything)", start: 0, length: .max, retargetTo: binaryStart)
    mapping("start and length UInt64.max", start: .max, length: .max, retargetTo: binaryStart)
    mapping("page offset UInt64.max", start: binaryStart, length: binaryLength, pgoff: .max)
    mapping("page offset 2^63", start: binaryStart, length: binaryLength, pgoff: 1 << 63)
    mapping(
      "page offset UInt64.max - 0x10 (offset arithmetic wraps)", start: binaryStart, length: binaryLength,
      pgoff: UInt64.max - 0x10)
    mapping("page offset not page-aligned", start: binaryStart, length: binaryLength, pgoff: 0x123)
    mapping("start not page-aligned", start: binaryStart + 0x321, length: binaryLength)
    var overlapping = b
    for i in 0..<1000 {
      overlapping.header.append(
        mmap2(
          pid: pid, start: binaryStart + UInt64(i % 7) * 0x100, length: binaryLength - UInt64(i % 5) * 0x1000,
          pgoff: UInt64(i % 3) * 0x1000, path: i % 3 == 0 ? binary : "/nonexistent/overlap-\(i).so",
          time: t0 - 1000 + UInt64(i)))
    }
    out.append(overlapping.mutant("mmap-range", "1,000 overlapping mappings of the binary's range"))
    var manyPIDs = b
    for i in 0..<1000 {
      manyPIDs.header.append(
        mmap2(pid: 50_000 + UInt32(i), start: binaryStart, length: binaryLength, path: binary, time: t0 - 1000))
    }
    out.append(
      manyPIDs.withSamples { i, s in s.pid = 50_000 + UInt32(i % 1000) }.mutant(
        "mmap-range", "the binary mapped in 1,000 processes, samples spread over them"))
    out.append(
      b.withHeader { _, r in
        guard case .mmap2(let m) = r.body else { return }
        r.type = RecordType.mmap
        r.body = .mmap(m)
      }.mutant("mmap-range", "PERF_RECORD_MMAP (the old record) instead of MMAP2"))
    out.append(
      b.withHeader { _, r in
        guard case .mmap2(var m) = r.body else { return }
        m.buildID = Array(1...20)
        r.misc |= RecordMisc.mmapBuildID
        r.body = .mmap2(m)
      }.mutant("mmap-range", "MMAP2 with a 20-byte build id that matches nothing"))
    out.append(
      b.withHeader { _, r in
        guard case .mmap2(var m) = r.body else { return }
        m.buildID = []
        r.misc |= RecordMisc.mmapBuildID
        r.body = .mmap2(m)
      }.mutant("mmap-range", "MMAP2 with an empty build id"))
    if let index = b.headerIndex(ofMapping: binary) {
      out.append(
        b.mutant(
          "mmap-range", "MMAP2 with build_id_size 255",
          replacingHeader: [
            index: rawMmap2(
              pid: pid, start: binaryStart, length: binaryLength, filename: Array(binary.utf8), time: t0 - 2900,
              buildIDSize: 255)
          ]))
    }
    out.append(
      b.withMapping(of: binary) { m in
        m.protection = 0
        m.flags = .max
        m.major = .max
        m.minor = .max
        m.inode = .max
        m.inodeGeneration = .max
      }.mutant("mmap-range", "MMAP2 prot 0, flags all ones, device and inode at their maxima"))
    out.append(
      b.withHeader { _, r in if case .mmap2 = r.body { r.misc = RecordMisc.kernel } }.mutant(
        "mmap-range", "MMAP2 with kernel cpumode for user mappings"))
    out.append(
      b.withHeader { _, r in if case .mmap2 = r.body { r.misc |= RecordMisc.mmapData } }.mutant(
        "mmap-range", "MMAP2 with the data flag on executable mappings"))
    var remaps: [Int: [Chunk]] = [:]
    for i in 0..<sampleCount {
      remaps[i] = [
        .record(mmap2(pid: pid, start: binaryStart, length: binaryLength, path: binary, time: sampleTime(i)))
      ]
    }
    out.append(
      b.withSampleRecords { i, r in setTime(&r, sampleTime(i) + 10) }.mutant(
        "mmap-range", "the binary re-mapped before every sample", inserting: remaps))
    return out
  }

  static func orderMutants(_ b: Base) -> [Mutant] {
    let end = sampleTime(sampleCount) + 1_000_000
    var out: [Mutant] = []
    var last = b.withHeader { i, r in setTime(&r, end + UInt64(i)) }
    last.sideBandLast = true
    out.append(last.mutant("order", "samples before any COMM or MMAP, in file and in time order"))
    var fileOnly = b
    fileOnly.sideBandLast = true
    out.append(fileOnly.mutant("order", "samples first in the file, side-band earlier in time"))
    var mmapLate = b
    mmapLate.header.removeAll { if case .mmap2 = $0.body { return true } else { return false } }
    mmapLate.tail = b.header.filter { if case .mmap2 = $0.body { return true } else { return false } } + b.tail
    mmapLate = mmapLate.withTail { i, r in if case .mmap2 = r.body { setTime(&r, end + UInt64(i)) } }
    out.append(mmapLate.mutant("order", "MMAP2 only after the samples, in file and in time order"))
    var mmapMid = b
    mmapMid.header.removeAll { if case .mmap2 = $0.body { return true } else { return false } }
    let maps = b.header.filter { if case .mmap2 = $0.body { return true } else { return false } }.map {
      r -> PerfRecord in
      var copy = r
      setTime(&copy, sampleTime(150))
      return copy
    }
    out.append(mmapMid.inserting(maps, atSample: 150).mutant("order", "MMAP2 halfway through the samples"))
    var twice = b
    twice.header = b.header.flatMap { r -> [PerfRecord] in
      if case .comm = r.body { return [r, r] }
      return [r]
    }
    out.append(twice.mutant("order", "every COMM twice"))
    var renames = b
    renames.samples = []
    for (i, r) in b.samples.enumerated() {
      renames.samples.append(comm(pid: pid, tid: tids[i % 3], i % 2 == 0 ? "even" : "odd", time: sampleTime(i)))
      renames.samples.append(r)
    }
    out.append(renames.mutant("order", "a COMM before every sample, alternating names"))
    let names: [(String, String)] = [
      ("an empty COMM", ""), ("a COMM of 4,000 characters", String(repeating: "c", count: 4000)),
      ("a COMM with ';', newline, tab, '<', '>', '&', quotes and %n", "a;b\nc\td<e>f&g\"h'i%n%s"),
      ("a COMM of emoji and right-to-left text", "🔥👩‍💻 שלום مرحبا \u{202E}evil"),
    ]
    for (label, name) in names {
      out.append(
        b.withHeader { _, r in
          guard case .comm(var c) = r.body else { return }
          c.comm = name
          r.body = .comm(c)
        }.mutant("order", label))
    }
    out.append(
      b.mutant(
        "order", "a COMM of invalid UTF-8",
        replacingHeader: [0: rawComm(tid: tids[0], name: [0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0x41], time: t0 - 3000)]))
    // 8 bytes of pid/tid, then 16 name bytes and no NUL: the body ends 8-aligned.
    out.append(
      b.mutant(
        "order", "a COMM without a NUL terminator",
        replacingHeader: [
          0: rawComm(tid: tids[0], name: Array("sixteen-bytes-xx".utf8), terminate: false, time: t0 - 3000)
        ]))
    let leader = tids[0]
    var selfFork = b
    selfFork.header.append(task(RecordType.fork, pid: pid, ppid: pid, tid: leader, ptid: leader, time: t0 - 500))
    out.append(selfFork.mutant("order", "a thread that forks itself"))
    var cycle = b
    cycle.header += [
      task(RecordType.fork, pid: pid, ppid: pid, tid: tids[1], ptid: tids[2], time: t0 - 400),
      task(RecordType.fork, pid: pid, ppid: pid, tid: tids[2], ptid: tids[1], time: t0 - 399),
    ]
    out.append(cycle.mutant("order", "two threads forking each other"))
    var chain = b
    for i in 0..<1000 {
      let parent = i == 0 ? leader : 20_000 + UInt32(i - 1)
      chain.header.append(
        task(RecordType.fork, pid: pid, ppid: pid, tid: 20_000 + UInt32(i), ptid: parent, time: t0 - 300))
    }
    out.append(
      chain.withSamples { i, s in s.tid = 20_000 + UInt32(i % 1000) }.mutant(
        "order", "a chain of 1,000 forks, samples of its ends"))
    var exitFirst = b
    exitFirst.header.insert(contentsOf: b.tail.filter { $0.type == RecordType.exit }, at: 0)
    exitFirst = exitFirst.withHeader { i, r in if r.type == RecordType.exit { setTime(&r, t0 - 5000 + UInt64(i)) } }
    out.append(exitFirst.mutant("order", "EXIT before FORK, and samples from exited threads"))
    var odd = b
    odd.header += [
      task(RecordType.fork, pid: 0, ppid: 0, tid: .max, ptid: .max, time: t0 - 200),
      task(RecordType.exit, pid: 0, ppid: .max, tid: 0, ptid: 0, time: t0 - 199),
      task(RecordType.exit, pid: .max, ppid: .max, tid: .max, ptid: .max, time: t0 - 198),
    ]
    out.append(odd.mutant("order", "FORK of tid -1 from -1, EXIT of pid 0 and pid -1"))
    var everyRound = b
    everyRound.roundEvery = 1
    everyRound.roundsInHeader = true
    out.append(everyRound.mutant("order", "FINISHED_ROUND after every record"))
    var noRound = b
    noRound.roundEvery = 0
    out.append(noRound.mutant("order", "no FINISHED_ROUND at all"))
    var leading = b
    leading.header.insert(contentsOf: [PerfRecord](repeating: finishedRound(), count: 1000), at: 0)
    out.append(leading.mutant("order", "1,000 FINISHED_ROUNDs before the first record"))
    out.append(
      b.mutant(
        "order", "FINISHED_INIT records among the samples",
        inserting: [
          0: [.record(PerfRecord(type: RecordType.finishedInit, body: .other([])))],
          150: [.record(PerfRecord(type: RecordType.finishedInit, body: .other([])))],
        ]))
    return out
  }

  static func oddRecordMutants(_ b: Base) -> [Mutant] {
    let at = sampleTime(150) + 2000
    var out: [Mutant] = []
    func sprinkled(_ name: String, every: Int = 30, _ make: (Int) -> Chunk) -> Mutant {
      var inserts: [Int: [Chunk]] = [:]
      for i in stride(from: 0, to: sampleCount, by: every) { inserts[i] = [make(i)] }
      return b.mutant("odd-record", name, inserting: inserts)
    }
    var bodyBytes: [UInt8] = []
    for j in 0..<24 { bodyBytes.append(UInt8(truncatingIfNeeded: 0xa5 + j * 37)) }
    let garbage = bodyBytes
    let types: [UInt32] = [0, 22, 30, 63, 64, 65, 66, 67, 69, 70, 73, 74, 79, 80, 81, 82, 83, 1000, .max]
    for type in types {
      out.append(
        sprinkled("records of type \(type) with a 24-byte body") { i in
          if type < 64 {
            return .raw(raw(type: type, body: garbage, trailer: (pid, pid, sampleTime(i) + 1)))
          }
          return .raw(raw(type: type, body: garbage, trailer: nil))
        })
    }
    out.append(
      sprinkled("THROTTLE and UNTHROTTLE storms with hostile values", every: 1) { i in
        let t = ThrottleRecord(time: i % 2 == 0 ? .max : 0, id: i % 3 == 0 ? 999 : eventID, streamID: .max)
        return .record(
          sideBand(
            i % 2 == 0 ? RecordType.throttle : RecordType.unthrottle, i % 2 == 0 ? .throttle(t) : .unthrottle(t),
            time: sampleTime(i)))
      })
    out.append(
      sprinkled("context switch records with pid and tid -1", every: 2) { i in
        i % 4 == 0
          ? .record(sideBand(RecordType.switchTask, misc: RecordMisc.switchOut, .switchTask, time: sampleTime(i)))
          : .record(
            sideBand(
              RecordType.switchCPUWide, .switchCPUWide(nextPrevPID: .max, nextPrevTID: .max), time: sampleTime(i)))
      })
    out.append(
      sprinkled("AUX records with offset, size and flags UInt64.max") { i in
        .record(sideBand(RecordType.aux, .aux(AuxRecord(offset: .max, size: .max, flags: .max)), time: sampleTime(i)))
      })
    out.append(
      sprinkled("ITRACE_START for pid -1") { i in
        .record(sideBand(RecordType.itraceStart, .itraceStart(pid: .max, tid: .max), time: sampleTime(i)))
      })
    out.append(
      sprinkled("KSYMBOL with a 4,000-character name at UInt64.max") { i in
        .record(
          sideBand(
            RecordType.ksymbol,
            .ksymbol(
              KsymbolRecord(
                address: UInt64.max - 16, length: .max, type: .max, flags: .max,
                name: String(repeating: "k", count: 4000))),
            time: sampleTime(i)))
      })
    out.append(
      sprinkled("BPF_EVENT with id UInt32.max") { i in
        .record(
          sideBand(
            RecordType.bpfEvent,
            .bpfEvent(BPFEventRecord(type: .max, flags: .max, id: .max, tag: [UInt8](repeating: 0xff, count: 8))),
            time: sampleTime(i)))
      })
    out.append(
      sprinkled("CGROUP with a 4,000-character path") { i in
        .record(
          sideBand(
            RecordType.cgroup, .cgroup(id: .max, path: "/" + String(repeating: "g/", count: 2000)), time: sampleTime(i))
        )
      })
    var namespaceList: [(dev: UInt64, inode: UInt64)] = []
    for j in 0..<1000 { namespaceList.append((dev: UInt64(j), inode: UInt64.max)) }
    let namespaces = NamespacesRecord(pid: pid, tid: pid, namespaces: namespaceList)
    out.append(
      sprinkled("NAMESPACES with 1,000 entries") { i in
        .record(sideBand(RecordType.namespaces, .namespaces(namespaces), time: sampleTime(i)))
      })
    out.append(
      sprinkled("NAMESPACES claiming UInt64.max entries") { i in
        var w = LEBytes()
        w.u32(pid)
        w.u32(pid)
        w.u64(.max)
        for _ in 0..<4 { w.u64(0x1234) }
        return .raw(raw(type: RecordType.namespaces, body: w.bytes, trailer: (pid, pid, sampleTime(i) + 1)))
      })
    out.append(
      sprinkled("TEXT_POKE whose lengths exceed the record") { i in
        var w = LEBytes()
        w.u64(kernelStart)
        w.u16(.max)
        w.u16(.max)
        w.u32(0x9090_9090)
        return .raw(raw(type: RecordType.textPoke, body: w.bytes, trailer: (pid, pid, sampleTime(i) + 1)))
      })
    out.append(
      sprinkled("TEXT_POKE with 4,000 new bytes") { i in
        .record(
          sideBand(
            RecordType.textPoke,
            .textPoke(TextPokeRecord(address: .max, oldBytes: [], newBytes: [UInt8](repeating: 0xcc, count: 4000))),
            time: sampleTime(i)))
      })
    out.append(
      sprinkled("READ records with value UInt64.max") { i in
        .record(
          sideBand(
            RecordType.read, .read(pid: pid, tid: pid, values: ReadValues(values: [ReadValues.Value(value: .max)])),
            time: sampleTime(i)))
      })
    out.append(
      sprinkled("AUX_OUTPUT_HW_ID of UInt64.max") { i in
        .record(sideBand(RecordType.auxOutputHardwareID, .auxOutputHardwareID(.max), time: sampleTime(i)))
      })
    out.append(
      b.mutant(
        "odd-record", "a kernel record of every known type at one instant",
        inserting: [
          150: [
            block([
              sideBand(RecordType.throttle, .throttle(ThrottleRecord(time: at, id: eventID, streamID: 0)), time: at),
              sideBand(RecordType.itraceStart, .itraceStart(pid: pid, tid: pid), time: at),
              sideBand(RecordType.switchTask, .switchTask, time: at),
              sideBand(RecordType.cgroup, .cgroup(id: 1, path: "/"), time: at),
              sideBand(RecordType.auxOutputHardwareID, .auxOutputHardwareID(1), time: at),
            ])
          ]
        ]))
    return out
  }

  static func eventMutants(_ b: Base) -> [Mutant] {
    var out: [Mutant] = []
    func withEvents(_ events: [PerfDataEvent], _ base: Base? = nil) -> Base {
      var c = base ?? b
      c.events = events
      return c
    }
    var noChain = cpuClock(ids: [8], name: "cpu-clock-flat")
    noChain.attributes.sample_type &= ~SampleType.callchain.rawValue
    out.append(
      withEvents([cpuClock(), noChain], b.withSamples { i, s in if i % 2 == 1 { s.identifier = 8 } }).mutant(
        "event", "a second event without callchains, half the samples its own"))
    var shifted = cpuClock(ids: [8], name: "cpu-clock-shifted")
    shifted.attributes.sample_type = SampleType([.ip, .tid, .time, .id, .period]).rawValue
    out.append(
      withEvents(
        [cpuClock(), shifted],
        b.withSamples { i, s in
          if i % 2 == 1 {
            s.identifier = 8
            s.id = 8
          }
        }
      ).mutant("event", "a second event that disagrees on where the id sits"))
    out.append(
      withEvents([cpuClock(), cpuClock(name: "cpu-clock-twin")]).mutant("event", "two events with the same id"))
    out.append(
      withEvents([cpuClock(ids: [7] + (1000..<11_000).map { UInt64($0) })]).mutant("event", "an event with 10,001 ids"))
    var dummy = SamplingAttributes.dummy()
    SamplingAttributes.configureSampling(
      &dummy, frequency: 1, period: nil, callGraph: .none, trackSideBand: true, systemWide: false)
    out.append(
      withEvents(
        [cpuClock(), PerfDataEvent(attributes: dummy, ids: [9], name: "dummy:u")],
        b.withHeader { _, r in r.sampleID.identifier = 9 }
      ).mutant("event", "a dummy side-band event carrying the side-band records"))
    out.append(
      withEvents([cpuClock(name: String(repeating: "e", count: 4000))]).mutant(
        "event", "an event name of 4,000 characters"))
    out.append(
      withEvents([cpuClock(name: "cpu;clock\n<svg onload=\"x\">&amp;%s")]).mutant(
        "event", "an event name with ';', a newline and markup"))
    out.append(withEvents([cpuClock(name: "")]).mutant("event", "an event with an empty name"))
    var fixedZero = cpuClock()
    fixedZero.attributes.freq = 0
    fixedZero.attributes.sample_period = 0
    out.append(
      withEvents([fixedZero], b.withSamples { _, s in s.period = 0 }).mutant(
        "event", "a fixed period of 0 and PERIOD 0 samples"))
    var fixedMax = cpuClock()
    fixedMax.attributes.freq = 0
    fixedMax.attributes.sample_period = .max
    out.append(
      withEvents([fixedMax], b.withSamples { _, s in s.period = 0 }).mutant(
        "event", "a fixed period of UInt64.max and PERIOD 0 samples (the weights overflow)"))
    var freqMax = cpuClock()
    freqMax.attributes.sample_freq = .max
    out.append(withEvents([freqMax]).mutant("event", "sample_freq UInt64.max"))
    let many = (0..<64).map { cpuClock(ids: [100 + UInt64($0)], name: "cpu-clock-\($0)") }
    out.append(
      withEvents(many, b.withSamples { i, s in s.identifier = 100 + UInt64(i % 64) }).mutant(
        "event", "64 events, samples spread over them"))
    return out
  }
}

extension SeededGenerator {
  /// 0..<n (n > 0).
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
  mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
  mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
}
