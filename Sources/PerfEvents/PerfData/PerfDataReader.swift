import SondeSystem
/// A perf.data file opened for reading: its events, features and records.
///
/// Tolerant of what it does not know (unknown record types and features are skipped and counted) and
/// strict about what is wrong: any section or record that does not fit the file throws a
/// `.corruptData` SondeError naming the byte offset. It never traps on malformed input.
public final class PerfDataFile: @unchecked Sendable {
  public let path: String
  public let storage: MappedFile
  /// Whether the file is a pipe-mode stream (attrs and features arrive as records).
  public let isPipe: Bool
  public private(set) var events: [PerfDataEvent]
  public private(set) var features: PerfDataFeatures
  /// Byte range of the record stream.
  public let dataRange: Range<Int>

  /// Opens and validates the header, attrs, ids and feature sections of `path`.
  public convenience init(path: String) throws(SondeError) {
    try self.init(path: path, storage: MappedFile(path: path))
  }

  public init(path: String, storage: MappedFile) throws(SondeError) {
    self.path = path
    self.storage = storage
    let bytes = storage.bytes
    var c = ByteCursor(bytes)
    do {
      let magic = try c.u64("magic")
      if magic == PerfDataFormat.swappedMagic {
        throw SondeError(
          .notSupported, operation: "read \(path)", reason: "the file was written on a big-endian machine",
          remedy: "convert it with perf on a machine of that byte order")
      }
      guard magic == PerfDataFormat.magic else {
        throw Self.corrupt(path, 0, "not a perf.data file (bad magic; expected PERFILE2)")
      }
      let headerSize = try c.u64("header size")
      if headerSize == UInt64(PerfDataFormat.pipeHeaderSize) {
        isPipe = true
        events = []
        features = PerfDataFeatures()
        dataRange = PerfDataFormat.pipeHeaderSize..<bytes.count
        return
      }
      isPipe = false
      guard
        headerSize == UInt64(PerfDataFormat.fileHeaderSize) || headerSize == UInt64(PerfDataFormat.legacyFileHeaderSize)
      else { throw Self.corrupt(path, 8, "header size \(headerSize) is neither 104 nor 72") }
      let attrSize = try c.u64("attr_size")
      let attrs = FileSection(offset: try c.u64("attrs offset"), size: try c.u64("attrs size"))
      let data = FileSection(offset: try c.u64("data offset"), size: try c.u64("data size"))
      _ = try c.u64("event_types offset")
      _ = try c.u64("event_types size")
      var featureBits = [UInt64](repeating: 0, count: 4)
      if headerSize == UInt64(PerfDataFormat.fileHeaderSize) {
        for i in 0..<4 { featureBits[i] = try c.u64("adds_features") }
      }
      guard attrSize >= 64 + 16, attrSize <= 4096 else {
        throw Self.corrupt(path, 16, "attr_size \(attrSize) is outside 80…4096")
      }
      try Self.check(attrs, in: bytes.count, path, field: 24, "attrs")
      try Self.check(data, in: bytes.count, path, field: 40, "data")
      guard attrs.size % attrSize == 0 else {
        throw Self.corrupt(path, 32, "attrs size \(attrs.size) is not a multiple of attr_size \(attrSize)")
      }
      // Caps far above any real recording (perf itself opens at most a few thousand events × CPUs), so a
      // sparse file claiming terabytes of attrs or ids is refused before anything is allocated for it.
      let eventCount = attrs.size / attrSize
      guard eventCount <= PerfDataFormat.maximumEvents else {
        throw Self.corrupt(
          path, 32, "attrs section claims \(eventCount) events (at most \(PerfDataFormat.maximumEvents))")
      }
      var totalIDs: UInt64 = 0
      var events: [PerfDataEvent] = []
      for i in 0..<Int(eventCount) {
        let start = Int(attrs.offset) + i * Int(attrSize)
        let attrBytes = Int(attrSize) - 16
        let claimed = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self)))
        guard claimed == 0 || claimed <= attrBytes else {
          throw Self.corrupt(path, start + 4, "attr.size \(claimed) exceeds the file's attr_size \(attrBytes)")
        }
        let attr = PerfDataEvent.attr(from: UnsafeRawBufferPointer(rebasing: bytes[start..<start + attrBytes]))
        var ids = ByteCursor(bytes, offset: start + attrBytes)
        let idSection = FileSection(offset: try ids.u64("ids offset"), size: try ids.u64("ids size"))
        try Self.check(idSection, in: bytes.count, path, field: start + attrBytes, "ids")
        totalIDs += idSection.size / 8
        guard totalIDs <= PerfDataFormat.maximumIDs else {
          throw Self.corrupt(path, start + attrBytes, "the events claim more than \(PerfDataFormat.maximumIDs) ids")
        }
        var idCursor = ByteCursor(bytes, offset: Int(idSection.offset), limit: Int(idSection.offset + idSection.size))
        let idList = try idCursor.u64Array(idSection.size / 8, "ids")
        events.append(PerfDataEvent(attributes: attr, ids: idList, name: ""))
      }
      dataRange = Int(data.offset)..<Int(data.offset + data.size)
      // The feature table sits right after the data: one section per set bit, in bit order.
      var features = PerfDataFeatures()
      var table = ByteCursor(bytes, offset: dataRange.upperBound)
      for bit in 0..<256 where featureBits[bit / 64] & (1 << UInt64(bit % 64)) != 0 {
        let tableOffset = table.offset
        let section = FileSection(offset: try table.u64("feature offset"), size: try table.u64("feature size"))
        try Self.check(section, in: bytes.count, path, field: tableOffset, "feature \(bit)")
        var fc = ByteCursor(bytes, offset: Int(section.offset), limit: Int(section.offset + section.size))
        try FeatureCoding.decode(bit, &fc, into: &features)
      }
      for (i, desc) in features.eventDescriptions.enumerated() where i < events.count { events[i].name = desc.name }
      self.events = events
      self.features = features
    } catch let e as RecordDecodeError {
      throw Self.corrupt(path, e.offset, e.reason)
    } catch let e as SondeError {
      throw e
    } catch {
      throw Self.corrupt(path, 0, "\(error)")
    }
  }

  public static func corrupt(_ path: String, _ offset: Int, _ reason: String) -> SondeError {
    SondeError(
      .corruptData, operation: "read \(path)", reason: "corrupt perf.data at byte \(offset): \(reason)")
  }

  static func check(_ s: FileSection, in size: Int, _ path: String, field: Int, _ name: String) throws(SondeError) {
    let (end, overflow) = s.offset.addingReportingOverflow(s.size)
    if overflow || end > UInt64(size) {
      throw corrupt(path, field, "\(name) section \(s.offset)+\(s.size) lies beyond the end of the \(size)-byte file")
    }
  }

  /// The record decoder for the file's events (attrs must agree on where the id sits, as perf requires).
  public var decoder: RecordDecoder {
    var layouts: [UInt64: SampleLayout] = [:]
    for e in events {
      for id in e.ids { layouts[id] = SampleLayout(e.attributes) }
    }
    let fallback = events.first.map { SampleLayout($0.attributes) } ?? SampleLayout(sampleType: [])
    return RecordDecoder(defaultLayout: fallback, layouts: layouts)
  }

  /// Statistics from a pass over the records.
  public struct Scan: Sendable {
    public var records = 0
    public var unknownRecords = 0
    public var bytes = 0
  }

  /// Calls `body` with every record's file offset and bytes, in file order. In pipe mode, HEADER_ATTR
  /// and HEADER_FEATURE records update `events`/`features` as they pass (and are also given to `body`).
  @discardableResult
  public func forEachRecord(_ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws -> Scan {
    let bytes = storage.bytes
    var offset = dataRange.lowerBound
    var scan = Scan()
    while offset < dataRange.upperBound {
      guard dataRange.upperBound - offset >= 8 else {
        throw Self.corrupt(path, offset, "\(dataRange.upperBound - offset) stray bytes after the last record")
      }
      let type = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
      var size = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)))
      // A pipe's TRACING_DATA record is followed by its payload, which its header size leaves out.
      if isPipe && type == RecordType.headerTracingData && size >= 12 && dataRange.upperBound - offset >= 12 {
        size += Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
      }
      guard size >= 8, size <= dataRange.upperBound - offset else {
        throw Self.corrupt(
          path, offset + 6, "record type \(type) has size \(size); \(dataRange.upperBound - offset) bytes remain")
      }
      let record = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
      if isPipe { try absorbPipeRecord(type: type, record, at: offset) }
      let known =
        (1...RecordType.auxOutputHardwareID).contains(type)
        || (RecordType.headerAttr...RecordType.finishedInit).contains(type)
      if !known { scan.unknownRecords += 1 }
      try body(offset, record)
      scan.records += 1
      scan.bytes += size
      offset += size
    }
    return scan
  }

  /// Decodes every record, with file offsets in errors.
  @discardableResult
  public func forEachDecodedRecord(_ body: (PerfRecord) throws -> Void) throws -> Scan {
    var decoder = self.decoder
    var knownEvents = events.count
    return try forEachRecord { offset, bytes in
      if events.count != knownEvents {
        decoder = self.decoder
        knownEvents = events.count
      }
      do {
        try body(try decoder.decode(bytes, base: offset))
      } catch let e as RecordDecodeError {
        throw Self.corrupt(path, e.offset, e.reason)
      }
    }
  }

  /// Calls `body` with every record in timestamp order, as perf's ordered-events queue delivers them, with
  /// the decoder for the events known at that point (pipe-mode streams define events as they go).
  ///
  /// perf writes each round's records per CPU buffer, so a sample can precede (in the file) the COMM or MMAP
  /// that happened before it. Records are queued and, at each FINISHED_ROUND, the queued ones no newer than
  /// the newest time of the previous round are sorted and delivered (perf's OE_FLUSH__ROUND), the rest at the
  /// end; ties and records without a timestamp keep file order. Memory holds about two rounds of
  /// 24-byte queue entries, and the file's pages behind the queue are let go. Files whose events lack
  /// sample_id_all or TIME are visited in file order. FINISHED_ROUND records themselves are not delivered.
  @discardableResult
  public func forEachRecordInTimeOrder(_ body: (Int, UnsafeRawBufferPointer, borrowing RecordDecoder) throws -> Void)
    throws
    -> Scan
  {
    struct Queued {
      var time: UInt64
      var offset: Int
      var size: Int
    }
    var decoder = self.decoder
    var knownEvents = events.count
    var timed: Bool?
    var queue: [Queued] = []
    var newestThisRound: UInt64 = 0
    var newestPreviousRound: UInt64 = 0
    let bytes = storage.bytes
    func flush(upTo horizon: UInt64?) throws {
      guard !queue.isEmpty else { return }
      queue.sort { $0.time != $1.time ? $0.time < $1.time : $0.offset < $1.offset }
      var cut = 0
      while cut < queue.count && (horizon.map { queue[cut].time <= $0 } ?? true) {
        let e = queue[cut]
        try body(e.offset, UnsafeRawBufferPointer(rebasing: bytes[e.offset..<e.offset + e.size]), decoder)
        cut += 1
      }
      queue.removeFirst(cut)
    }
    let scan = try forEachRecord { offset, record in
      if events.count != knownEvents {
        decoder = self.decoder
        knownEvents = events.count
      }
      let type = UInt32(littleEndian: record.loadUnaligned(as: UInt32.self))
      if timed == nil && type < RecordType.headerAttr {
        timed =
          !events.isEmpty
          && events.allSatisfy {
            $0.attributes.sample_id_all != 0 && SampleType(rawValue: $0.attributes.sample_type).contains(.time)
          }
      }
      guard timed == true else {
        if type != RecordType.finishedRound { try body(offset, record, decoder) }
        return
      }
      if type == RecordType.finishedRound {
        try flush(upTo: newestPreviousRound)
        newestPreviousRound = newestThisRound
        storage.dropPages(before: queue.lazy.map(\.offset).min() ?? offset)
        return
      }
      let time = decoder.time(of: record)
      queue.append(Queued(time: time, offset: offset, size: record.count))
      newestThisRound = max(newestThisRound, time)
    }
    try flush(upTo: nil)
    return scan
  }

  /// Decodes every record in timestamp order (see `forEachRecordInTimeOrder`), with file offsets in errors.
  @discardableResult
  public func forEachDecodedRecordInTimeOrder(_ body: (PerfRecord) throws -> Void) throws -> Scan {
    try forEachRecordInTimeOrder { offset, record, decoder in
      do {
        try body(try decoder.decode(record, base: offset))
      } catch let error as RecordDecodeError {
        throw Self.corrupt(path, error.offset, error.reason)
      }
    }
  }

  private func absorbPipeRecord(type: UInt32, _ record: UnsafeRawBufferPointer, at offset: Int) throws {
    if type == RecordType.headerAttr {
      guard record.count >= 8 + 64 else { throw Self.corrupt(path, offset, "HEADER_ATTR too short") }
      let claimed = Int(UInt32(littleEndian: record.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
      let attrSize = claimed == 0 ? 64 : claimed
      guard attrSize >= 64, 8 + attrSize <= record.count else {
        throw Self.corrupt(path, offset + 12, "HEADER_ATTR attr.size \(claimed) does not fit its record")
      }
      let attr = PerfDataEvent.attr(from: UnsafeRawBufferPointer(rebasing: record[8..<8 + attrSize]))
      var c = ByteCursor(record, offset: 8 + attrSize, base: offset)
      let ids = try c.u64Array(UInt64(c.remaining / 8), "HEADER_ATTR ids")
      events.append(PerfDataEvent(attributes: attr, ids: ids, name: ""))
    } else if type == RecordType.headerTracingData {
      let header = Int(UInt16(littleEndian: record.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
      // Like a file's section, tracing data Sonde cannot parse is noted rather than fatal.
      if let data = try? TracingData.decode(Array(record[min(header, record.count)...])) {
        features.tracingData = data
      } else {
        features.otherFeatures.append(FeatureID.tracingData.rawValue)
      }
    } else if type == RecordType.headerFeature {
      var c = ByteCursor(record, offset: 8, base: offset)
      let feature = try c.u64("feature id")
      guard feature < 256 else { return }
      do {
        try FeatureCoding.decode(Int(feature), &c, into: &features)
      } catch {
        throw Self.corrupt(path, error.offset, error.reason)
      }
      for (i, desc) in features.eventDescriptions.enumerated() where i < events.count { events[i].name = desc.name }
    }
  }
}
