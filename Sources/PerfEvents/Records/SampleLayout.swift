import CSonde

/// Everything about an event's attributes that decides how its records are laid out: the sample
/// fields, the read format, register masks, branch-stack options, and whether side-band records
/// carry the sample_id_all trailer.
public struct SampleLayout: Sendable, Hashable {
  public var sampleType: SampleType
  public var readFormat: ReadFormat
  public var sampleIDAll: Bool
  public var regsUserMask: UInt64
  public var regsIntrMask: UInt64
  public var branchSampleType: UInt64

  public init(
    sampleType: SampleType, readFormat: ReadFormat = [], sampleIDAll: Bool = false,
    regsUserMask: UInt64 = 0, regsIntrMask: UInt64 = 0, branchSampleType: UInt64 = 0
  ) {
    self.sampleType = sampleType
    self.readFormat = readFormat
    self.sampleIDAll = sampleIDAll
    self.regsUserMask = regsUserMask
    self.regsIntrMask = regsIntrMask
    self.branchSampleType = branchSampleType
  }

  /// The layout implied by a perf_event_attr.
  public init(_ attr: perf_event_attr) {
    self.init(
      sampleType: SampleType(rawValue: attr.sample_type), readFormat: ReadFormat(rawValue: attr.read_format),
      sampleIDAll: attr.sample_id_all != 0, regsUserMask: attr.sample_regs_user,
      regsIntrMask: attr.sample_regs_intr, branchSampleType: attr.branch_sample_type)
  }

  /// Bytes of the sample_id_all trailer on non-sample records (0 without sample_id_all).
  public var trailerSize: Int {
    guard sampleIDAll else { return 0 }
    var n = 0
    if sampleType.contains(.tid) { n += 8 }
    if sampleType.contains(.time) { n += 8 }
    if sampleType.contains(.id) { n += 8 }
    if sampleType.contains(.streamID) { n += 8 }
    if sampleType.contains(.cpu) { n += 8 }
    if sampleType.contains(.identifier) { n += 8 }
    return n
  }

  /// Whether samples can be attributed to their event: IDENTIFIER or ID is present.
  public var hasSampleID: Bool { sampleType.contains(.identifier) || sampleType.contains(.id) }

  /// Offset of the event id in a SAMPLE body (from the start of the body), if fixed; perf's `id_pos`.
  public var sampleIDOffset: Int? {
    if sampleType.contains(.identifier) { return 0 }
    guard sampleType.contains(.id) else { return nil }
    var n = 0
    for bit in [SampleType.ip, .tid, .time, .addr] where sampleType.contains(bit) { n += 8 }
    return n
  }

  /// Offset of the event id counted back from the end of a non-sample record; perf's `is_pos`.
  public var trailerIDOffsetFromEnd: Int? {
    guard sampleIDAll else { return nil }
    if sampleType.contains(.identifier) { return 8 }
    guard sampleType.contains(.id) else { return nil }
    var n = 8
    if sampleType.contains(.streamID) { n += 8 }
    if sampleType.contains(.cpu) { n += 8 }
    return n
  }
}

/// The sample_id_all trailer of a non-sample record: who, when, which event, which CPU.
public struct SampleID: Sendable, Hashable {
  public var pid: UInt32 = 0
  public var tid: UInt32 = 0
  public var time: UInt64 = 0
  public var id: UInt64 = 0
  public var streamID: UInt64 = 0
  public var cpu: UInt32 = 0
  public var cpuReserved: UInt32 = 0
  public var identifier: UInt64 = 0

  public init() {}

  static func decode(_ c: inout ByteCursor, _ t: SampleType) throws(RecordDecodeError) -> SampleID {
    var s = SampleID()
    if t.contains(.tid) {
      s.pid = try c.u32("sample_id pid")
      s.tid = try c.u32("sample_id tid")
    }
    if t.contains(.time) { s.time = try c.u64("sample_id time") }
    if t.contains(.id) { s.id = try c.u64("sample_id id") }
    if t.contains(.streamID) { s.streamID = try c.u64("sample_id stream_id") }
    if t.contains(.cpu) {
      s.cpu = try c.u32("sample_id cpu")
      s.cpuReserved = try c.u32("sample_id res")
    }
    if t.contains(.identifier) { s.identifier = try c.u64("sample_id identifier") }
    return s
  }

  func encode(_ w: inout ByteWriter, _ t: SampleType) {
    if t.contains(.tid) {
      w.u32(pid)
      w.u32(tid)
    }
    if t.contains(.time) { w.u64(time) }
    if t.contains(.id) { w.u64(id) }
    if t.contains(.streamID) { w.u64(streamID) }
    if t.contains(.cpu) {
      w.u32(cpu)
      w.u32(cpuReserved)
    }
    if t.contains(.identifier) { w.u64(identifier) }
  }
}
