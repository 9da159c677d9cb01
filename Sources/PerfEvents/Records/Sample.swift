/// Counter values carried by PERF_SAMPLE_READ (or read(2)), in either the single or the group layout.
public struct ReadValues: Sendable, Hashable {
  public struct Value: Sendable, Hashable {
    public var value: UInt64
    public var id: UInt64
    public var lost: UInt64
    public init(value: UInt64, id: UInt64 = 0, lost: UInt64 = 0) {
      self.value = value
      self.id = id
      self.lost = lost
    }
  }
  public var timeEnabled: UInt64 = 0
  public var timeRunning: UInt64 = 0
  /// One value without READ_FORMAT_GROUP; one per group member with it.
  public var values: [Value] = []

  public init(timeEnabled: UInt64 = 0, timeRunning: UInt64 = 0, values: [Value] = []) {
    self.timeEnabled = timeEnabled
    self.timeRunning = timeRunning
    self.values = values
  }

  static func decode(_ c: inout ByteCursor, _ f: ReadFormat) throws(RecordDecodeError) -> ReadValues {
    var r = ReadValues()
    if f.contains(.group) {
      let nr = try c.u64("read nr")
      if f.contains(.totalTimeEnabled) { r.timeEnabled = try c.u64("read time_enabled") }
      if f.contains(.totalTimeRunning) { r.timeRunning = try c.u64("read time_running") }
      let per = 8 * (1 + (f.contains(.id) ? 1 : 0) + (f.contains(.lost) ? 1 : 0))
      guard nr <= UInt64(c.remaining / per) else { throw c.fail("read group claims \(nr) members") }
      r.values.reserveCapacity(Int(nr))
      for _ in 0..<nr {
        var v = Value(value: try c.u64("read value"))
        if f.contains(.id) { v.id = try c.u64("read id") }
        if f.contains(.lost) { v.lost = try c.u64("read lost") }
        r.values.append(v)
      }
    } else {
      var v = Value(value: try c.u64("read value"))
      if f.contains(.totalTimeEnabled) { r.timeEnabled = try c.u64("read time_enabled") }
      if f.contains(.totalTimeRunning) { r.timeRunning = try c.u64("read time_running") }
      if f.contains(.id) { v.id = try c.u64("read id") }
      if f.contains(.lost) { v.lost = try c.u64("read lost") }
      r.values = [v]
    }
    return r
  }

  func encode(_ w: inout ByteWriter, _ f: ReadFormat) {
    if f.contains(.group) {
      w.u64(UInt64(values.count))
      if f.contains(.totalTimeEnabled) { w.u64(timeEnabled) }
      if f.contains(.totalTimeRunning) { w.u64(timeRunning) }
      for v in values {
        w.u64(v.value)
        if f.contains(.id) { w.u64(v.id) }
        if f.contains(.lost) { w.u64(v.lost) }
      }
    } else {
      let v = values.first ?? Value(value: 0)
      w.u64(v.value)
      if f.contains(.totalTimeEnabled) { w.u64(timeEnabled) }
      if f.contains(.totalTimeRunning) { w.u64(timeRunning) }
      if f.contains(.id) { w.u64(v.id) }
      if f.contains(.lost) { w.u64(v.lost) }
    }
  }
}

/// One last-branch-record entry.
public struct BranchEntry: Sendable, Hashable {
  public var from: UInt64
  public var to: UInt64
  /// mispred/predicted/in_tx/abort/cycles/type bits, as the kernel packs them.
  public var flags: UInt64
  public init(from: UInt64, to: UInt64, flags: UInt64) {
    self.from = from
    self.to = to
    self.flags = flags
  }
}

/// PERF_SAMPLE_BRANCH_STACK contents.
public struct BranchStack: Sendable, Hashable {
  /// Present with PERF_SAMPLE_BRANCH_HW_INDEX.
  public var hardwareIndex: UInt64 = 0
  public var entries: [BranchEntry] = []
  /// One per entry with PERF_SAMPLE_BRANCH_COUNTERS.
  public var counters: [UInt64] = []
  public init(hardwareIndex: UInt64 = 0, entries: [BranchEntry] = [], counters: [UInt64] = []) {
    self.hardwareIndex = hardwareIndex
    self.entries = entries
    self.counters = counters
  }
}

/// Sampled registers (REGS_USER / REGS_INTR): the ABI (0 = none available) and the masked registers.
public struct SampledRegisters: Sendable, Hashable {
  /// PERF_SAMPLE_REGS_ABI_NONE (0), _32 (1) or _64 (2).
  public var abi: UInt64 = 0
  /// One value per set bit of the mask, lowest bit first; empty when abi is 0.
  public var values: [UInt64] = []
  public init(abi: UInt64 = 0, values: [UInt64] = []) {
    self.abi = abi
    self.values = values
  }
}

/// A copy of the user stack (STACK_USER): the requested size of bytes, and how many are valid.
public struct UserStack: Sendable, Hashable {
  public var data: [UInt8] = []
  /// Bytes actually copied by the kernel (≤ data.count).
  public var dynamicSize: UInt64 = 0
  public init(data: [UInt8] = [], dynamicSize: UInt64 = 0) {
    self.data = data
    self.dynamicSize = dynamicSize
  }
}

/// A PERF_RECORD_SAMPLE, every field the kernel defines. Fields not in the layout's sample_type are 0/empty.
/// The leading fixed fields (IDENTIFIER … PERIOD) are its `head`, reachable directly (`sample.ip`).
@dynamicMemberLookup
public struct Sample: Sendable, Hashable {
  public var head = SampleHead()
  public var read = ReadValues()
  /// Leaf first, with PERF_CONTEXT_* markers as the kernel writes them.
  public var callchain: [UInt64] = []
  /// RAW payload including the kernel's padding (so 4 + count is a multiple of 8).
  public var raw: [UInt8] = []
  public var branchStack = BranchStack()
  public var regsUser = SampledRegisters()
  public var stackUser = UserStack()
  /// WEIGHT, or WEIGHT_STRUCT's packed union (var1_dw | var2_w << 32 | var3_w << 48).
  public var weight: UInt64 = 0
  public var dataSource: UInt64 = 0
  public var transaction: UInt64 = 0
  public var regsIntr = SampledRegisters()
  public var physAddr: UInt64 = 0
  public var aux: [UInt8] = []
  public var cgroup: UInt64 = 0
  public var dataPageSize: UInt64 = 0
  public var codePageSize: UInt64 = 0

  public init() {}

  /// The head's fields (`ip`, `pid`, `tid`, `time`, `period`, …) as if they were the sample's own.
  public subscript<T>(dynamicMember field: WritableKeyPath<SampleHead, T>) -> T {
    get { head[keyPath: field] }
    set { head[keyPath: field] = newValue }
  }

  /// The event id, from IDENTIFIER or ID.
  public var eventID: UInt64 { head.eventID }

  /// Decodes a sample body (after the 8-byte header) laid out by `layout`.
  public static func decode(_ c: inout ByteCursor, _ layout: SampleLayout) throws(RecordDecodeError) -> Sample {
    let t = layout.sampleType
    var s = Sample()
    s.head = try SampleHead.decode(&c, t)
    if t.contains(.read) { s.read = try ReadValues.decode(&c, layout.readFormat) }
    if t.contains(.callchain) {
      let chain = try SampleHead.callchain(&c)
      s.callchain = (0..<chain.count / 8).map {
        UInt64(littleEndian: chain.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))
      }
    }
    if t.contains(.raw) {
      let size = try c.u32("raw size")
      s.raw = try c.bytes(Int(size), "raw data")
    }
    if t.contains(.branchStack) {
      let nr = try c.u64("branch nr")
      if layout.branchSampleType & BranchSampleType.hardwareIndex != 0 {
        s.branchStack.hardwareIndex = try c.u64("branch hw_idx")
      }
      let hasCounters = layout.branchSampleType & BranchSampleType.counters != 0
      guard nr <= UInt64(c.remaining / (hasCounters ? 32 : 24)) else {
        throw c.fail("branch stack claims \(nr) entries")
      }
      s.branchStack.entries.reserveCapacity(Int(nr))
      for _ in 0..<nr {
        s.branchStack.entries.append(
          BranchEntry(from: try c.u64("branch from"), to: try c.u64("branch to"), flags: try c.u64("branch flags")))
      }
      if hasCounters { s.branchStack.counters = try c.u64Array(nr, "branch counters") }
    }
    if t.contains(.regsUser) { s.regsUser = try decodeRegisters(&c, layout.regsUserMask) }
    if t.contains(.stackUser) {
      let size = try c.u64("stack size")
      if size != 0 {
        guard size <= UInt64(c.remaining) else { throw c.fail("user stack claims \(size) bytes") }
        s.stackUser.data = try c.bytes(Int(size), "stack data")
        s.stackUser.dynamicSize = try c.u64("stack dyn_size")
      }
    }
    if t.contains(.weight) || t.contains(.weightStruct) { s.weight = try c.u64("weight") }
    if t.contains(.dataSource) { s.dataSource = try c.u64("data_src") }
    if t.contains(.transaction) { s.transaction = try c.u64("transaction") }
    if t.contains(.regsIntr) { s.regsIntr = try decodeRegisters(&c, layout.regsIntrMask) }
    if t.contains(.physAddr) { s.physAddr = try c.u64("phys_addr") }
    if t.contains(.aux) {
      let size = try c.u64("aux size")
      guard size <= UInt64(c.remaining) else { throw c.fail("aux claims \(size) bytes") }
      s.aux = try c.bytes(Int(size), "aux data")
    }
    if t.contains(.cgroup) { s.cgroup = try c.u64("cgroup") }
    if t.contains(.dataPageSize) { s.dataPageSize = try c.u64("data_page_size") }
    if t.contains(.codePageSize) { s.codePageSize = try c.u64("code_page_size") }
    return s
  }

  private static func decodeRegisters(_ c: inout ByteCursor, _ mask: UInt64) throws(RecordDecodeError)
    -> SampledRegisters
  {
    let abi = try c.u64("regs abi")
    if abi == 0 { return SampledRegisters() }
    return SampledRegisters(abi: abi, values: try c.u64Array(UInt64(mask.nonzeroBitCount), "regs"))
  }

  /// Encodes the body (no header) in the layout's field order, as the kernel would write it.
  public func encode(_ w: inout ByteWriter, _ layout: SampleLayout) {
    let t = layout.sampleType
    head.encode(&w, t)
    if t.contains(.read) { read.encode(&w, layout.readFormat) }
    if t.contains(.callchain) {
      w.u64(UInt64(callchain.count))
      for a in callchain { w.u64(a) }
    }
    if t.contains(.raw) {
      // The kernel pads RAW so the u32 size plus data ends 8-aligned, and counts the padding in size.
      var padded = raw
      while (4 + padded.count) % 8 != 0 { padded.append(0) }
      w.u32(UInt32(padded.count))
      w.append(padded)
    }
    if t.contains(.branchStack) {
      w.u64(UInt64(branchStack.entries.count))
      if layout.branchSampleType & BranchSampleType.hardwareIndex != 0 { w.u64(branchStack.hardwareIndex) }
      for e in branchStack.entries {
        w.u64(e.from)
        w.u64(e.to)
        w.u64(e.flags)
      }
      if layout.branchSampleType & BranchSampleType.counters != 0 {
        for i in 0..<branchStack.entries.count { w.u64(i < branchStack.counters.count ? branchStack.counters[i] : 0) }
      }
    }
    if t.contains(.regsUser) { Self.encodeRegisters(&w, regsUser, layout.regsUserMask) }
    if t.contains(.stackUser) {
      w.u64(UInt64(stackUser.data.count))
      if !stackUser.data.isEmpty {
        w.append(stackUser.data)
        w.u64(stackUser.dynamicSize)
      }
    }
    if t.contains(.weight) || t.contains(.weightStruct) { w.u64(weight) }
    if t.contains(.dataSource) { w.u64(dataSource) }
    if t.contains(.transaction) { w.u64(transaction) }
    if t.contains(.regsIntr) { Self.encodeRegisters(&w, regsIntr, layout.regsIntrMask) }
    if t.contains(.physAddr) { w.u64(physAddr) }
    if t.contains(.aux) {
      // The kernel rounds the AUX snapshot up to 8 bytes and reports the rounded size.
      var padded = aux
      while padded.count % 8 != 0 { padded.append(0) }
      w.u64(UInt64(padded.count))
      w.append(padded)
    }
    if t.contains(.cgroup) { w.u64(cgroup) }
    if t.contains(.dataPageSize) { w.u64(dataPageSize) }
    if t.contains(.codePageSize) { w.u64(codePageSize) }
  }

  private static func encodeRegisters(_ w: inout ByteWriter, _ r: SampledRegisters, _ mask: UInt64) {
    w.u64(r.abi)
    guard r.abi != 0 else { return }
    for i in 0..<mask.nonzeroBitCount { w.u64(i < r.values.count ? r.values[i] : 0) }
  }
}
