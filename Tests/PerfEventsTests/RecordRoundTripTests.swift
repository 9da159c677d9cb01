import Testing

@testable import PerfEvents

/// Encode → decode round trips for every sample_type bit and every side-band record, like perf's
/// tests/sample-parsing.c: each field survives with a distinct value, in the kernel's order.
struct RecordRoundTripTests {
  /// A sample with a distinct value in every field.
  static func fullSample(readGroup: Bool) -> Sample {
    var s = Sample()
    s.identifier = 0x1111
    s.ip = 0xffff_ffff_8100_0000
    s.pid = 101
    s.tid = 102
    s.time = 1_000_000_003
    s.addr = 0x7fff_0000_1000
    s.id = 0x1111
    s.streamID = 0x2222
    s.cpu = 3
    s.period = 10_101
    s.read =
      readGroup
      ? ReadValues(
        timeEnabled: 500, timeRunning: 400,
        values: [.init(value: 1, id: 11, lost: 0), .init(value: 2, id: 12, lost: 7)])
      : ReadValues(timeEnabled: 500, timeRunning: 400, values: [.init(value: 42, id: 11, lost: 3)])
    s.callchain = [CallchainContext.kernel, 0xffff_ffff_8100_0010, CallchainContext.user, 0x401000, 0x401100]
    s.raw = [1, 2, 3, 4]  // 4 + 4 is 8-aligned: no padding added
    s.branchStack = BranchStack(
      hardwareIndex: 9, entries: [BranchEntry(from: 1, to: 2, flags: 3), BranchEntry(from: 4, to: 5, flags: 6)],
      counters: [])
    s.regsUser = SampledRegisters(abi: 2, values: [10, 20, 30])
    s.stackUser = UserStack(data: (0..<64).map { UInt8($0) }, dynamicSize: 48)
    s.weight = 0x0003_0002_0000_0001
    s.dataSource = 0x5566
    s.transaction = 0x77
    s.regsIntr = SampledRegisters(abi: 2, values: [7, 8])
    s.physAddr = 0x1234_5000
    s.aux = [9, 9, 9, 9, 9, 9, 9, 9]
    s.cgroup = 0x99
    s.dataPageSize = 4096
    s.codePageSize = 2_097_152
    return s
  }

  /// Keeps only the fields the layout carries, as the decoder leaves the others at zero.
  static func project(_ s: Sample, _ layout: SampleLayout) -> Sample {
    var out = Sample()
    let t = layout.sampleType
    if t.contains(.identifier) { out.identifier = s.identifier }
    if t.contains(.ip) { out.ip = s.ip }
    if t.contains(.tid) { (out.pid, out.tid) = (s.pid, s.tid) }
    if t.contains(.time) { out.time = s.time }
    if t.contains(.addr) { out.addr = s.addr }
    if t.contains(.id) { out.id = s.id }
    if t.contains(.streamID) { out.streamID = s.streamID }
    if t.contains(.cpu) { out.cpu = s.cpu }
    if t.contains(.period) { out.period = s.period }
    if t.contains(.read) {
      let f = layout.readFormat
      out.read.timeEnabled = f.contains(.totalTimeEnabled) ? s.read.timeEnabled : 0
      out.read.timeRunning = f.contains(.totalTimeRunning) ? s.read.timeRunning : 0
      out.read.values = s.read.values.map {
        .init(value: $0.value, id: f.contains(.id) ? $0.id : 0, lost: f.contains(.lost) ? $0.lost : 0)
      }
    }
    if t.contains(.callchain) { out.callchain = s.callchain }
    if t.contains(.raw) { out.raw = s.raw }
    if t.contains(.branchStack) {
      out.branchStack = s.branchStack
      if layout.branchSampleType & BranchSampleType.hardwareIndex == 0 { out.branchStack.hardwareIndex = 0 }
    }
    if t.contains(.regsUser) { out.regsUser = s.regsUser }
    if t.contains(.stackUser) { out.stackUser = s.stackUser }
    if t.contains(.weight) || t.contains(.weightStruct) { out.weight = s.weight }
    if t.contains(.dataSource) { out.dataSource = s.dataSource }
    if t.contains(.transaction) { out.transaction = s.transaction }
    if t.contains(.regsIntr) { out.regsIntr = s.regsIntr }
    if t.contains(.physAddr) { out.physAddr = s.physAddr }
    if t.contains(.aux) { out.aux = s.aux }
    if t.contains(.cgroup) { out.cgroup = s.cgroup }
    if t.contains(.dataPageSize) { out.dataPageSize = s.dataPageSize }
    if t.contains(.codePageSize) { out.codePageSize = s.codePageSize }
    return out
  }

  static func roundTrip(_ record: PerfRecord, _ layout: SampleLayout) throws -> PerfRecord {
    let bytes = record.encode(layout: layout)
    #expect(bytes.count % 8 == 0, "records are multiples of 8 bytes")
    let size = Int(bytes[6]) | Int(bytes[7]) << 8
    #expect(size == bytes.count)
    return try bytes.withUnsafeBytes { try PerfRecord.decode($0, layout: layout) }
  }

  @Test(arguments: 0..<25)
  func everySampleTypeBitRoundTripsAlone(bit: Int) throws {
    let layout = SampleLayout(
      sampleType: SampleType(rawValue: 1 << UInt64(bit)), readFormat: [.totalTimeEnabled, .totalTimeRunning, .id],
      regsUserMask: 0b1011, regsIntrMask: 0b11, branchSampleType: BranchSampleType.hardwareIndex)
    let expected = Self.project(Self.fullSample(readGroup: false), layout)
    let decoded = try Self.roundTrip(PerfRecord(type: RecordType.sample, body: .sample(expected)), layout)
    #expect(decoded.body == .sample(expected))
  }

  @Test(arguments: [false, true])
  func allSampleFieldsTogetherRoundTrip(group: Bool) throws {
    let layout = SampleLayout(
      sampleType: SampleType(rawValue: (1 << 24) - 1),
      readFormat: group ? [.group, .totalTimeEnabled, .totalTimeRunning, .id, .lost] : [.id, .lost],
      sampleIDAll: true, regsUserMask: 0b111, regsIntrMask: 0b11, branchSampleType: BranchSampleType.hardwareIndex)
    let expected = Self.project(Self.fullSample(readGroup: group), layout)
    let decoded = try Self.roundTrip(PerfRecord(type: RecordType.sample, body: .sample(expected)), layout)
    #expect(decoded.body == .sample(expected))
  }

  @Test func sampleFieldsAppearInTheKernelsOrder() throws {
    var s = Sample()
    (s.identifier, s.ip, s.pid, s.tid, s.time, s.period) = (7, 0xabc, 5, 6, 99, 1000)
    s.callchain = [CallchainContext.user, 0x10, 0x20]
    let layout = SampleLayout(sampleType: [.identifier, .ip, .tid, .time, .period, .callchain])
    let bytes = PerfRecord(type: RecordType.sample, misc: RecordMisc.user, body: .sample(s)).encode(layout: layout)
    var words: [UInt64] = []
    for i in stride(from: 0, to: bytes.count, by: 8) {
      var word: UInt64 = 0
      for j in 0..<8 { word |= UInt64(bytes[i + j]) << UInt64(8 * j) }
      words.append(word)
    }
    let header: UInt64 = UInt64(RecordType.sample) | UInt64(RecordMisc.user) << 32 | UInt64(bytes.count) << 48
    #expect(words[0] == header)
    #expect(Array(words[1...]) == [7, 0xabc, 5 | 6 << 32, 99, 1000, 3, CallchainContext.user, 0x10, 0x20])
  }

  @Test func rawIsPaddedSoSizePlusDataEndsAligned() throws {
    var s = Sample()
    s.raw = [1, 2, 3, 4, 5, 6, 7]
    let layout = SampleLayout(sampleType: [.raw])
    let bytes = PerfRecord(type: RecordType.sample, body: .sample(s)).encode(layout: layout)
    #expect(bytes.count == 8 + 4 + 12)  // 4 + 7 rounds to 16
    let decoded = try bytes.withUnsafeBytes { try PerfRecord.decode($0, layout: layout) }
    guard case .sample(let d) = decoded.body else {
      Issue.record("not a sample")
      return
    }
    #expect(d.raw == [1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0])
  }

  @Test func regsWithAbiNoneAndEmptyUserStackCarryNothingMore() throws {
    let layout = SampleLayout(sampleType: [.regsUser, .stackUser], regsUserMask: 0xff)
    let bytes = PerfRecord(type: RecordType.sample, body: .sample(Sample())).encode(layout: layout)
    #expect(bytes.count == 8 + 8 + 8, "abi 0 has no registers; stack size 0 has no dyn_size")
    let decoded = try bytes.withUnsafeBytes { try PerfRecord.decode($0, layout: layout) }
    #expect(decoded.body == .sample(Sample()))
  }

  @Test func branchCountersFollowTheEntries() throws {
    let layout = SampleLayout(sampleType: [.branchStack], branchSampleType: BranchSampleType.counters)
    var s = Sample()
    s.branchStack = BranchStack(entries: [BranchEntry(from: 1, to: 2, flags: 3)], counters: [77])
    let decoded = try Self.roundTrip(PerfRecord(type: RecordType.sample, body: .sample(s)), layout)
    #expect(decoded.body == .sample(s))
  }

  static var sideBandRecords: [PerfRecord] {
    var mmap2 = MmapRecord(pid: 1, tid: 2, address: 0x400000, length: 0x1000, pageOffset: 0, filename: "/bin/true")
    (mmap2.major, mmap2.minor, mmap2.inode, mmap2.inodeGeneration, mmap2.protection, mmap2.flags) = (8, 1, 77, 3, 5, 2)
    var buildIDMmap = mmap2
    (buildIDMmap.major, buildIDMmap.minor, buildIDMmap.inode, buildIDMmap.inodeGeneration) = (0, 0, 0, 0)
    buildIDMmap.buildID = Array(1...20)
    return [
      PerfRecord(
        type: RecordType.mmap, misc: RecordMisc.user,
        body: .mmap(MmapRecord(pid: 1, tid: 2, address: 3, length: 4, pageOffset: 5, filename: "/lib/libc.so.6"))),
      PerfRecord(type: RecordType.mmap2, misc: RecordMisc.user, body: .mmap2(mmap2)),
      PerfRecord(
        type: RecordType.mmap2, misc: RecordMisc.user | RecordMisc.mmapBuildID, body: .mmap2(buildIDMmap)),
      PerfRecord(
        type: RecordType.comm, misc: RecordMisc.commExec, body: .comm(CommRecord(pid: 5, tid: 5, comm: "sonde-demo"))),
      PerfRecord(type: RecordType.fork, body: .fork(TaskRecord(pid: 6, ppid: 5, tid: 6, ptid: 5, time: 12))),
      PerfRecord(type: RecordType.exit, body: .exit(TaskRecord(pid: 6, ppid: 5, tid: 6, ptid: 5, time: 13))),
      PerfRecord(type: RecordType.lost, body: .lost(id: 1, count: 17)),
      PerfRecord(type: RecordType.lostSamples, body: .lostSamples(23)),
      PerfRecord(type: RecordType.throttle, body: .throttle(ThrottleRecord(time: 1, id: 2, streamID: 3))),
      PerfRecord(type: RecordType.unthrottle, body: .unthrottle(ThrottleRecord(time: 4, id: 5, streamID: 6))),
      PerfRecord(
        type: RecordType.read,
        body: .read(pid: 1, tid: 2, values: ReadValues(values: [.init(value: 5)]))),
      PerfRecord(type: RecordType.aux, body: .aux(AuxRecord(offset: 1, size: 2, flags: 3))),
      PerfRecord(type: RecordType.itraceStart, body: .itraceStart(pid: 1, tid: 2)),
      PerfRecord(
        type: RecordType.switchTask, misc: RecordMisc.switchOut | RecordMisc.switchOutPreempt, body: .switchTask),
      PerfRecord(
        type: RecordType.switchCPUWide, misc: RecordMisc.switchOut,
        body: .switchCPUWide(nextPrevPID: 9, nextPrevTID: 10)),
      PerfRecord(
        type: RecordType.namespaces,
        body: .namespaces(NamespacesRecord(pid: 1, tid: 2, namespaces: [(dev: 3, inode: 4), (dev: 5, inode: 6)]))),
      PerfRecord(
        type: RecordType.ksymbol,
        body: .ksymbol(KsymbolRecord(address: 0xffff_0000, length: 64, type: 1, flags: 0, name: "bpf_prog_abc_x"))),
      PerfRecord(
        type: RecordType.bpfEvent,
        body: .bpfEvent(BPFEventRecord(type: 1, flags: 0, id: 42, tag: [1, 2, 3, 4, 5, 6, 7, 8]))),
      PerfRecord(type: RecordType.cgroup, body: .cgroup(id: 77, path: "/system.slice/x.service")),
      PerfRecord(
        type: RecordType.textPoke,
        body: .textPoke(TextPokeRecord(address: 0xffff_1000, oldBytes: [1, 2], newBytes: [3]))),
      PerfRecord(type: RecordType.auxOutputHardwareID, body: .auxOutputHardwareID(5)),
    ]
  }

  @Test func everySideBandRecordRoundTripsWithItsSampleIDTrailer() throws {
    let layout = SampleLayout(
      sampleType: [.identifier, .ip, .tid, .time, .id, .streamID, .cpu, .period], sampleIDAll: true)
    var trailer = SampleID()
    (trailer.pid, trailer.tid, trailer.time, trailer.id, trailer.streamID, trailer.cpu, trailer.identifier) =
      (10, 11, 12, 13, 14, 1, 13)
    for var record in Self.sideBandRecords {
      record.sampleID = trailer
      let decoded = try Self.roundTrip(record, layout)
      #expect(decoded == record)
      #expect(decoded.time == (record.type == RecordType.fork || record.type == RecordType.exit ? record.time : 12))
    }
  }

  @Test func sideBandRecordsWithoutSampleIDAllHaveNoTrailer() throws {
    let layout = SampleLayout(sampleType: [.ip, .tid, .time])
    for record in Self.sideBandRecords {
      #expect(try Self.roundTrip(record, layout) == record)
    }
    let comm = PerfRecord(type: RecordType.comm, body: .comm(CommRecord(pid: 1, tid: 1, comm: "abc")))
    #expect(comm.encode(layout: layout).count == 8 + 8 + 8)
  }

  @Test func theDecoderFindsEachEventsLayoutByID() throws {
    let a = SampleLayout(sampleType: [.identifier, .ip, .period], sampleIDAll: true)
    let b = SampleLayout(sampleType: [.identifier, .ip, .period, .callchain], sampleIDAll: true)
    let decoder = RecordDecoder(defaultLayout: a, layouts: [1: a, 2: b])
    var s = Sample()
    (s.identifier, s.ip, s.period, s.callchain) = (2, 0x10, 5, [CallchainContext.user, 0x10])
    let bytes = PerfRecord(type: RecordType.sample, body: .sample(s)).encode(layout: b)
    let decoded = try bytes.withUnsafeBytes { try decoder.decode($0) }
    #expect(decoded.body == .sample(s))
  }

  @Test func everyTruncationOrOversizeThrowsWithAnOffsetInsteadOfCrashing() throws {
    let layout = SampleLayout(
      sampleType: SampleType(rawValue: (1 << 24) - 1), readFormat: [.group, .id], sampleIDAll: true,
      regsUserMask: 0b111, regsIntrMask: 0b11)
    let full = PerfRecord(type: RecordType.sample, body: .sample(Self.fullSample(readGroup: true))).encode(
      layout: layout)
    for cut in 0..<full.count {
      var bytes = Array(full[0..<cut])
      if bytes.count >= 8 {
        bytes[6] = UInt8(cut & 0xff)
        bytes[7] = UInt8(cut >> 8)
      }
      #expect(throws: RecordDecodeError.self) {
        try bytes.withUnsafeBytes { try PerfRecord.decode($0, layout: layout) }
      }
    }
    // A callchain count that claims far more entries than the record holds.
    var s = Sample()
    s.callchain = [1, 2]
    var bytes = PerfRecord(type: RecordType.sample, body: .sample(s)).encode(
      layout: SampleLayout(sampleType: [.callchain]))
    bytes[8] = 0xff
    bytes[14] = 0x7f
    let error = #expect(throws: RecordDecodeError.self) {
      try bytes.withUnsafeBytes { try PerfRecord.decode($0, layout: SampleLayout(sampleType: [.callchain])) }
    }
    #expect(error?.offset == 16)
  }
}
