/// The fixed fields at the start of a PERF_RECORD_SAMPLE body, in the kernel's order (IDENTIFIER … PERIOD).
/// Fields not in the layout's sample_type are 0.
public struct SampleHead: Sendable, Hashable {
  public var identifier: UInt64 = 0
  public var ip: UInt64 = 0
  public var pid: UInt32 = 0
  public var tid: UInt32 = 0
  public var time: UInt64 = 0
  public var addr: UInt64 = 0
  public var id: UInt64 = 0
  public var streamID: UInt64 = 0
  public var cpu: UInt32 = 0
  public var cpuReserved: UInt32 = 0
  public var period: UInt64 = 0

  public init(
    identifier: UInt64 = 0, ip: UInt64 = 0, pid: UInt32 = 0, tid: UInt32 = 0, time: UInt64 = 0, addr: UInt64 = 0,
    id: UInt64 = 0, streamID: UInt64 = 0, cpu: UInt32 = 0, cpuReserved: UInt32 = 0, period: UInt64 = 0
  ) {
    self.identifier = identifier
    self.ip = ip
    self.pid = pid
    self.tid = tid
    self.time = time
    self.addr = addr
    self.id = id
    self.streamID = streamID
    self.cpu = cpu
    self.cpuReserved = cpuReserved
    self.period = period
  }

  /// The event id, from IDENTIFIER or ID.
  public var eventID: UInt64 { identifier != 0 ? identifier : id }

  static func decode(_ c: inout ByteCursor, _ t: SampleType) throws(RecordDecodeError) -> SampleHead {
    var s = SampleHead()
    if t.contains(.identifier) { s.identifier = try c.u64("identifier") }
    if t.contains(.ip) { s.ip = try c.u64("ip") }
    if t.contains(.tid) {
      s.pid = try c.u32("pid")
      s.tid = try c.u32("tid")
    }
    if t.contains(.time) { s.time = try c.u64("time") }
    if t.contains(.addr) { s.addr = try c.u64("addr") }
    if t.contains(.id) { s.id = try c.u64("id") }
    if t.contains(.streamID) { s.streamID = try c.u64("stream_id") }
    if t.contains(.cpu) {
      s.cpu = try c.u32("cpu")
      s.cpuReserved = try c.u32("cpu res")
    }
    if t.contains(.period) { s.period = try c.u64("period") }
    return s
  }

  func encode(_ w: inout ByteWriter, _ t: SampleType) {
    if t.contains(.identifier) { w.u64(identifier) }
    if t.contains(.ip) { w.u64(ip) }
    if t.contains(.tid) {
      w.u32(pid)
      w.u32(tid)
    }
    if t.contains(.time) { w.u64(time) }
    if t.contains(.addr) { w.u64(addr) }
    if t.contains(.id) { w.u64(id) }
    if t.contains(.streamID) { w.u64(streamID) }
    if t.contains(.cpu) {
      w.u32(cpu)
      w.u32(cpuReserved)
    }
    if t.contains(.period) { w.u64(period) }
  }

  /// The CALLCHAIN field: its count, then that many u64 entries, returned as a view of the entries' bytes.
  static func callchain(_ c: inout ByteCursor) throws(RecordDecodeError) -> UnsafeRawBufferPointer {
    let nr = try c.u64("callchain nr")
    guard nr <= UInt64(c.remaining / 8) else {
      throw c.fail("callchain claims \(nr) entries but only \(c.remaining / 8) fit")
    }
    let bytes = UnsafeRawBufferPointer(rebasing: c.bytes[c.offset..<c.offset + Int(nr) * 8])
    c.offset += Int(nr) * 8
    return bytes
  }
}

/// What a profile needs of a sample, decoded without allocating: the head, the callchain as a view of the
/// record's bytes, and the user instruction pointer from sampled user registers. Valid only inside the
/// callback that receives it (the bytes belong to the file).
public struct SampleView {
  public var head: SampleHead
  /// The callchain entries (leaf first, with PERF_CONTEXT markers), little-endian u64s.
  public var callchainBytes: UnsafeRawBufferPointer
  /// The user-space IP from REGS_USER, when sampled with an ABI (DWARF mode).
  public var userIP: UInt64?
  /// The user-space stack and frame pointers from REGS_USER (DWARF mode), where sampled.
  public var userSP: UInt64?
  public var userBP: UInt64?
  /// The bytes of user stack the kernel copied from `userSP` up (STACK_USER, its dyn_size prefix; empty
  /// when not sampled).
  public var userStack: UnsafeRawBufferPointer

  public init(
    head: SampleHead, callchainBytes: UnsafeRawBufferPointer, userIP: UInt64?, userSP: UInt64? = nil,
    userBP: UInt64? = nil, userStack: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
  ) {
    self.head = head
    self.callchainBytes = callchainBytes
    self.userIP = userIP
    self.userSP = userSP
    self.userBP = userBP
    self.userStack = userStack
  }

  /// Entries in the callchain.
  public var callchainCount: Int { callchainBytes.count / 8 }

  /// Callchain entry `i`.
  @inline(__always)
  public func callchain(_ i: Int) -> UInt64 {
    UInt64(littleEndian: callchainBytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
  }

  /// Sample types the view decodes in place; any other field sends the record through the full decoder.
  static let inPlaceTypes: SampleType = [
    .identifier, .ip, .tid, .time, .addr, .id, .streamID, .cpu, .period, .callchain,
  ]
}

extension RecordDecoder {
  /// Calls `body` with the view of a SAMPLE record (`bytes` from its header on). Layouts of only the
  /// fields up to CALLCHAIN are read in place; others are decoded whole, so errors are the same either way.
  public func withSampleView<R>(
    _ bytes: UnsafeRawBufferPointer, base: Int, _ body: (SampleView) throws -> R
  ) throws -> R {
    let layout = self.layout(for: bytes)
    let t = layout.sampleType
    if t.isSubset(of: SampleView.inPlaceTypes) {
      var c = ByteCursor(bytes, base: base)
      c.offset = 6
      let size = Int(try c.u16("header size"))
      guard size >= 8, size <= bytes.count else {
        throw RecordDecodeError(offset: base + 6, reason: "record size \(size) is outside 8...\(bytes.count)")
      }
      c.limit = size
      let head = try SampleHead.decode(&c, t)
      let chain = t.contains(.callchain) ? try SampleHead.callchain(&c) : UnsafeRawBufferPointer(start: nil, count: 0)
      return try body(SampleView(head: head, callchainBytes: chain, userIP: nil))
    }
    guard case .sample(let s) = try PerfRecord.decode(bytes, layout: layout, base: base).body else {
      throw RecordDecodeError(offset: base, reason: "not a sample record")
    }
    let mask = layout.regsUserMask
    let registers = s.regsUser
    let copied = min(Int(clamping: s.stackUser.dynamicSize), s.stackUser.data.count)
    return try s.callchain.withUnsafeBytes { chain in
      try s.stackUser.data.withUnsafeBytes { stack in
        try body(
          SampleView(
            head: s.head, callchainBytes: chain, userIP: registers.instructionPointer(mask: mask),
            userSP: registers.value(UserRegisters.x86StackPointer, mask: mask),
            userBP: registers.value(UserRegisters.x86FramePointer, mask: mask),
            userStack: UnsafeRawBufferPointer(rebasing: stack[0..<copied])))
      }
    }
  }
}

extension SampledRegisters {
  /// The x86-64 instruction pointer among these registers, sampled with `mask`.
  public func instructionPointer(mask: UInt64) -> UInt64? { value(UserRegisters.x86InstructionPointer, mask: mask) }

  /// Register number `register` (`UserRegisters`) among these registers, sampled with `mask` (nil without
  /// an ABI or that register's bit): each set bit of the mask below the register's is one value before it.
  public func value(_ register: Int, mask: UInt64) -> UInt64? {
    guard (0..<64).contains(register) else { return nil }
    let bit: UInt64 = 1 << UInt64(register)
    guard abi != 0, mask & bit != 0 else { return nil }
    let index = (mask & (bit - 1)).nonzeroBitCount
    return index < values.count ? values[index] : nil
  }
}
