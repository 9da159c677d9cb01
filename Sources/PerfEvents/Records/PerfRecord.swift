/// One record from a perf ring buffer or perf.data file: the header's type and misc, the decoded body,
/// and (for non-sample kernel records with sample_id_all) the trailer.
public struct PerfRecord: Sendable, Hashable {
  /// The decoded payload. `.other` keeps records Sonde does not interpret (perf tool records, future kernel
  /// records) byte-exact so they can be skipped or copied.
  public enum Body: Sendable, Hashable {
    case sample(Sample)
    case mmap(MmapRecord)
    case mmap2(MmapRecord)
    case comm(CommRecord)
    case exit(TaskRecord)
    case fork(TaskRecord)
    case lost(id: UInt64, count: UInt64)
    case lostSamples(UInt64)
    case throttle(ThrottleRecord)
    case unthrottle(ThrottleRecord)
    case read(pid: UInt32, tid: UInt32, values: ReadValues)
    case aux(AuxRecord)
    case itraceStart(pid: UInt32, tid: UInt32)
    case switchTask
    case switchCPUWide(nextPrevPID: UInt32, nextPrevTID: UInt32)
    case namespaces(NamespacesRecord)
    case ksymbol(KsymbolRecord)
    case bpfEvent(BPFEventRecord)
    case cgroup(id: UInt64, path: String)
    case textPoke(TextPokeRecord)
    case auxOutputHardwareID(UInt64)
    /// Body bytes after the 8-byte header, for types not decoded above.
    case other([UInt8])
  }

  public var type: UInt32
  public var misc: UInt16
  public var body: Body
  /// The sample_id_all trailer (zero when the layout has none, and for samples).
  public var sampleID: SampleID

  public init(type: UInt32, misc: UInt16 = 0, body: Body, sampleID: SampleID = SampleID()) {
    self.type = type
    self.misc = misc
    self.body = body
    self.sampleID = sampleID
  }

  /// The record's timestamp: sample TIME, the trailer's TIME, or FORK/EXIT's own time; 0 if none.
  public var time: UInt64 {
    switch body {
    case .sample(let s): s.time
    case .fork(let t), .exit(let t): t.time != 0 ? t.time : sampleID.time
    default: sampleID.time
    }
  }

  /// Decodes one whole record (header included). `bytes.count` must be the header's size.
  /// `base` is added to error offsets so they name the byte in the enclosing file or buffer.
  public static func decode(_ bytes: UnsafeRawBufferPointer, layout: SampleLayout, base: Int = 0)
    throws(RecordDecodeError) -> PerfRecord
  {
    var c = ByteCursor(bytes, base: base)
    let type = try c.u32("header type")
    let misc = try c.u16("header misc")
    let size = Int(try c.u16("header size"))
    guard size >= 8, size <= bytes.count else {
      throw RecordDecodeError(offset: base + 6, reason: "record size \(size) is outside 8...\(bytes.count)")
    }
    c.limit = size
    if type == RecordType.sample {
      let sample = try Sample.decode(&c, layout)
      return PerfRecord(type: type, misc: misc, body: .sample(sample))
    }
    guard type < RecordType.headerAttr else {
      return PerfRecord(type: type, misc: misc, body: .other(try c.bytes(c.remaining, "record body")))
    }
    // Kernel side-band record: the trailer sits at the very end.
    let trailer = layout.trailerSize
    guard size - 8 >= trailer else {
      throw RecordDecodeError(
        offset: base + 6, reason: "record type \(type) of \(size) bytes cannot hold its \(trailer)-byte sample_id")
    }
    var sampleID = SampleID()
    if trailer > 0 {
      var t = ByteCursor(bytes, offset: size - trailer, limit: size, base: base)
      sampleID = try SampleID.decode(&t, layout.sampleType)
    }
    c.limit = size - trailer
    let body = try decodeBody(type: type, misc: misc, &c, layout)
    return PerfRecord(type: type, misc: misc, body: body, sampleID: sampleID)
  }

  private static func decodeBody(type: UInt32, misc: UInt16, _ c: inout ByteCursor, _ layout: SampleLayout)
    throws(RecordDecodeError) -> Body
  {
    switch type {
    case RecordType.mmap:
      var m = MmapRecord(
        pid: try c.u32("mmap pid"), tid: try c.u32("mmap tid"), address: try c.u64("mmap addr"),
        length: try c.u64("mmap len"), pageOffset: try c.u64("mmap pgoff"), filename: "")
      m.filename = try c.paddedString(c.remaining, "mmap filename")
      return .mmap(m)
    case RecordType.mmap2:
      var m = MmapRecord(
        pid: try c.u32("mmap2 pid"), tid: try c.u32("mmap2 tid"), address: try c.u64("mmap2 addr"),
        length: try c.u64("mmap2 len"), pageOffset: try c.u64("mmap2 pgoff"), filename: "")
      if misc & RecordMisc.mmapBuildID != 0 {
        let n = Int(try c.u8("build_id_size"))
        try c.skip(3, "mmap2 reserved")
        let id = try c.bytes(20, "mmap2 build_id")
        guard n <= 20 else { throw c.fail("mmap2 build_id_size \(n) exceeds 20") }
        m.buildID = Array(id[0..<n])
      } else {
        m.major = try c.u32("mmap2 maj")
        m.minor = try c.u32("mmap2 min")
        m.inode = try c.u64("mmap2 ino")
        m.inodeGeneration = try c.u64("mmap2 ino_generation")
      }
      m.protection = try c.u32("mmap2 prot")
      m.flags = try c.u32("mmap2 flags")
      m.filename = try c.paddedString(c.remaining, "mmap2 filename")
      return .mmap2(m)
    case RecordType.comm:
      let pid = try c.u32("comm pid")
      let tid = try c.u32("comm tid")
      return .comm(CommRecord(pid: pid, tid: tid, comm: try c.paddedString(c.remaining, "comm")))
    case RecordType.exit, RecordType.fork:
      let t = TaskRecord(
        pid: try c.u32("pid"), ppid: try c.u32("ppid"), tid: try c.u32("tid"), ptid: try c.u32("ptid"),
        time: try c.u64("time"))
      return type == RecordType.exit ? .exit(t) : .fork(t)
    case RecordType.lost:
      return .lost(id: try c.u64("lost id"), count: try c.u64("lost count"))
    case RecordType.lostSamples:
      return .lostSamples(try c.u64("lost_samples count"))
    case RecordType.throttle, RecordType.unthrottle:
      let t = ThrottleRecord(time: try c.u64("time"), id: try c.u64("id"), streamID: try c.u64("stream_id"))
      return type == RecordType.throttle ? .throttle(t) : .unthrottle(t)
    case RecordType.read:
      let pid = try c.u32("read pid")
      let tid = try c.u32("read tid")
      return .read(pid: pid, tid: tid, values: try ReadValues.decode(&c, layout.readFormat))
    case RecordType.aux:
      return .aux(AuxRecord(offset: try c.u64("aux_offset"), size: try c.u64("aux_size"), flags: try c.u64("flags")))
    case RecordType.itraceStart:
      return .itraceStart(pid: try c.u32("pid"), tid: try c.u32("tid"))
    case RecordType.switchTask:
      return .switchTask
    case RecordType.switchCPUWide:
      return .switchCPUWide(nextPrevPID: try c.u32("next_prev_pid"), nextPrevTID: try c.u32("next_prev_tid"))
    case RecordType.namespaces:
      let pid = try c.u32("namespaces pid")
      let tid = try c.u32("namespaces tid")
      let nr = try c.u64("nr_namespaces")
      guard nr <= UInt64(c.remaining / 16) else { throw c.fail("namespaces claims \(nr) entries") }
      var list: [(dev: UInt64, inode: UInt64)] = []
      for _ in 0..<nr { list.append((dev: try c.u64("ns dev"), inode: try c.u64("ns inode"))) }
      return .namespaces(NamespacesRecord(pid: pid, tid: tid, namespaces: list))
    case RecordType.ksymbol:
      let k = KsymbolRecord(
        address: try c.u64("ksymbol addr"), length: try c.u32("ksymbol len"), type: try c.u16("ksym_type"),
        flags: try c.u16("ksymbol flags"), name: "")
      var r = k
      r.name = try c.paddedString(c.remaining, "ksymbol name")
      return .ksymbol(r)
    case RecordType.bpfEvent:
      return .bpfEvent(
        BPFEventRecord(
          type: try c.u16("bpf type"), flags: try c.u16("bpf flags"), id: try c.u32("bpf id"),
          tag: try c.bytes(8, "bpf tag")))
    case RecordType.cgroup:
      let id = try c.u64("cgroup id")
      return .cgroup(id: id, path: try c.paddedString(c.remaining, "cgroup path"))
    case RecordType.textPoke:
      let addr = try c.u64("text_poke addr")
      let oldLen = Int(try c.u16("old_len"))
      let newLen = Int(try c.u16("new_len"))
      let old = try c.bytes(oldLen, "old bytes")
      let new = try c.bytes(newLen, "new bytes")
      return .textPoke(TextPokeRecord(address: addr, oldBytes: old, newBytes: new))
    case RecordType.auxOutputHardwareID:
      return .auxOutputHardwareID(try c.u64("hw_id"))
    default:
      return .other(try c.bytes(c.remaining, "record body"))
    }
  }

  /// Encodes the whole record (header, body, trailer) as the kernel lays it out.
  public func encode(layout: SampleLayout) -> [UInt8] {
    var w = ByteWriter(capacity: 128)
    w.u32(type)
    w.u16(misc)
    w.u16(0)
    switch body {
    case .sample(let s): s.encode(&w, layout)
    case .mmap(let m):
      w.u32(m.pid)
      w.u32(m.tid)
      w.u64(m.address)
      w.u64(m.length)
      w.u64(m.pageOffset)
      w.paddedString(m.filename)
    case .mmap2(let m):
      w.u32(m.pid)
      w.u32(m.tid)
      w.u64(m.address)
      w.u64(m.length)
      w.u64(m.pageOffset)
      if let id = m.buildID {
        w.u8(UInt8(min(id.count, 20)))
        w.zeros(3)
        let clipped = Array(id.prefix(20))
        w.append(clipped)
        w.zeros(20 - clipped.count)
      } else {
        w.u32(m.major)
        w.u32(m.minor)
        w.u64(m.inode)
        w.u64(m.inodeGeneration)
      }
      w.u32(m.protection)
      w.u32(m.flags)
      w.paddedString(m.filename)
    case .comm(let c):
      w.u32(c.pid)
      w.u32(c.tid)
      w.paddedString(c.comm)
    case .exit(let t), .fork(let t):
      w.u32(t.pid)
      w.u32(t.ppid)
      w.u32(t.tid)
      w.u32(t.ptid)
      w.u64(t.time)
    case .lost(let id, let count):
      w.u64(id)
      w.u64(count)
    case .lostSamples(let n): w.u64(n)
    case .throttle(let t), .unthrottle(let t):
      w.u64(t.time)
      w.u64(t.id)
      w.u64(t.streamID)
    case .read(let pid, let tid, let values):
      w.u32(pid)
      w.u32(tid)
      values.encode(&w, layout.readFormat)
    case .aux(let a):
      w.u64(a.offset)
      w.u64(a.size)
      w.u64(a.flags)
    case .itraceStart(let pid, let tid):
      w.u32(pid)
      w.u32(tid)
    case .switchTask: break
    case .switchCPUWide(let pid, let tid):
      w.u32(pid)
      w.u32(tid)
    case .namespaces(let n):
      w.u32(n.pid)
      w.u32(n.tid)
      w.u64(UInt64(n.namespaces.count))
      for e in n.namespaces {
        w.u64(e.dev)
        w.u64(e.inode)
      }
    case .ksymbol(let k):
      w.u64(k.address)
      w.u32(k.length)
      w.u16(k.type)
      w.u16(k.flags)
      w.paddedString(k.name)
    case .bpfEvent(let b):
      w.u16(b.type)
      w.u16(b.flags)
      w.u32(b.id)
      let tag = Array(b.tag.prefix(8))
      w.append(tag)
      w.zeros(8 - tag.count)
    case .cgroup(let id, let path):
      w.u64(id)
      w.paddedString(path)
    case .textPoke(let t):
      w.u64(t.address)
      w.u16(UInt16(t.oldBytes.count))
      w.u16(UInt16(t.newBytes.count))
      w.append(t.oldBytes)
      w.append(t.newBytes)
      w.align(8)
    case .auxOutputHardwareID(let id): w.u64(id)
    case .other(let bytes):
      w.append(bytes)
      w.align(8)
    }
    if type != RecordType.sample && type < RecordType.headerAttr && layout.sampleIDAll {
      sampleID.encode(&w, layout.sampleType)
    }
    w.patchU16(at: 6, UInt16(truncatingIfNeeded: w.bytes.count))
    return w.bytes
  }
}

/// Chooses the layout for each record of a session with one or more events, by event id, as perf does:
/// IDENTIFIER/ID at a fixed position in samples, at a fixed distance from the end in side-band records.
public struct RecordDecoder: Sendable {
  public var layouts: [UInt64: SampleLayout] { didSet { uniform = Self.uniform(layouts, defaultLayout) } }
  /// Used when there is one event or the id is unknown. All events must agree on the id position.
  public var defaultLayout: SampleLayout { didSet { uniform = Self.uniform(layouts, defaultLayout) } }
  /// The one layout every id has, when they all agree (one event on many CPUs): no lookup per record then.
  private var uniform: SampleLayout?

  public init(defaultLayout: SampleLayout, layouts: [UInt64: SampleLayout] = [:]) {
    self.defaultLayout = defaultLayout
    self.layouts = layouts
    uniform = Self.uniform(layouts, defaultLayout)
  }

  private static func uniform(_ layouts: [UInt64: SampleLayout], _ fallback: SampleLayout) -> SampleLayout? {
    guard let first = layouts.first?.value else { return fallback }
    return layouts.values.allSatisfy { $0 == first } ? first : nil
  }

  /// The event id a raw record names (0 if it names none).
  public func eventID(of bytes: UnsafeRawBufferPointer) -> UInt64 {
    guard bytes.count >= 8 else { return 0 }
    let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    if type == RecordType.sample {
      guard let off = defaultLayout.sampleIDOffset, bytes.count >= 8 + off + 8 else { return 0 }
      return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 + off, as: UInt64.self))
    }
    guard type < RecordType.headerAttr, let back = defaultLayout.trailerIDOffsetFromEnd, bytes.count >= 8 + back
    else { return 0 }
    return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - back, as: UInt64.self))
  }

  /// The layout for a raw record.
  public func layout(for bytes: UnsafeRawBufferPointer) -> SampleLayout {
    if let uniform { return uniform }
    return layouts[eventID(of: bytes)] ?? defaultLayout
  }

  /// Decodes one raw record with the right layout.
  public func decode(_ bytes: UnsafeRawBufferPointer, base: Int = 0) throws(RecordDecodeError) -> PerfRecord {
    try PerfRecord.decode(bytes, layout: layout(for: bytes), base: base)
  }

  /// The timestamp of a raw record without decoding all of it (0 if it carries none).
  public func time(of bytes: UnsafeRawBufferPointer) -> UInt64 {
    guard bytes.count >= 8 else { return 0 }
    let layout = self.layout(for: bytes)
    let t = layout.sampleType
    guard t.contains(.time) else { return 0 }
    let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    if type == RecordType.sample {
      var off = 8
      if t.contains(.identifier) { off += 8 }
      if t.contains(.ip) { off += 8 }
      if t.contains(.tid) { off += 8 }
      guard bytes.count >= off + 8 else { return 0 }
      return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: off, as: UInt64.self))
    }
    guard type < RecordType.headerAttr, layout.sampleIDAll else { return 0 }
    let off = bytes.count - layout.trailerSize + (t.contains(.tid) ? 8 : 0)
    guard off >= 8, off + 8 <= bytes.count else { return 0 }
    return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: off, as: UInt64.self))
  }
}
