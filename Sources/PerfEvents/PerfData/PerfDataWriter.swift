import SondeSystem
#if canImport(Glibc)
  import Glibc
#endif

/// Writes a perf.data file (file mode) that perf report/script read: header, attrs with their ids, the
/// data section, and the feature table right after the data.
///
/// Layout: header | ids of every event | attrs | data … | feature table | feature payloads. The header is
/// written first and kept valid as the data grows: every `sync()` (and every buffer flush) rewrites its
/// data size to cover exactly the records on disk, so a recorder killed with SIGKILL, or stopped by a full
/// disk, leaves a file perf and Sonde read up to its last flush. `finish` adds the features and their bits.
/// Records must follow perf's FINISHED_ROUND protocol (readers sort by it): per-CPU runs in time order, a
/// round marker after each pass over the rings, as SondeCore's `RingWriter` writes them; `RecordSorter`
/// merges records that are not in a ring.
public final class PerfDataWriter {
  public let path: String
  private let output: OutputFile
  private let events: [PerfDataEvent]
  private var buffer = ByteWriter(capacity: 1 << 20)
  /// Bytes handed to the writer so far (on disk or buffered), from the start of the file.
  private var position: UInt64 = 0
  private var attrsSection = FileSection(offset: 0, size: 0)
  private var dataOffset: UInt64 = 0
  /// Records appended so far.
  public private(set) var recordCount = 0
  /// Where the data size in the header on disk ends (file mode).
  private var headerCovers: UInt64 = 0
  /// Bytes of records appended so far (the data section).
  public var bytesWritten: UInt64 { position >= dataOffset ? position - dataOffset : 0 }
  /// Pipe mode: a stream (header, HEADER_ATTR and HEADER_FEATURE records, then data) with no seeking.
  public let isPipe: Bool

  /// Creates `path` (see `OutputFile`: a regular file is kept as PATH.old, devices and FIFOs are written
  /// through) and writes everything up to the start of the data section. A path that cannot seek needs
  /// the pipe format: open it with `OutputFile` and use `init(stream:events:features:)`.
  public convenience init(path: String, events: [PerfDataEvent]) throws(SondeError) {
    let output = try OutputFile(path: path, rotate: false)
    guard !output.isStream else {
      throw SondeError.invalid("open(\(path))", "cannot seek: a FIFO or device takes the pipe format")
    }
    try self.init(file: output, events: events)
  }

  /// File mode on an opened regular file: writes the header (data size 0, no features yet), the ids and
  /// the attrs.
  public init(file output: OutputFile, events: [PerfDataEvent]) throws(SondeError) {
    self.output = output
    path = output.path
    self.events = events
    isPipe = false
    buffer.zeros(PerfDataFormat.fileHeaderSize)
    var idSections: [FileSection] = []
    for e in events {
      idSections.append(FileSection(offset: UInt64(buffer.bytes.count), size: UInt64(e.ids.count * 8)))
      for id in e.ids { buffer.u64(id) }
    }
    let attrStart = UInt64(buffer.bytes.count)
    for (e, ids) in zip(events, idSections) {
      buffer.append(e.fileBytes)
      buffer.u64(ids.offset)
      buffer.u64(ids.size)
    }
    attrsSection = FileSection(offset: attrStart, size: UInt64(buffer.bytes.count) - attrStart)
    dataOffset = UInt64(buffer.bytes.count)
    position = dataOffset
    let header = headerBytes(dataSize: 0, featureBits: [0, 0, 0, 0])
    buffer.bytes.replaceSubrange(0..<header.count, with: header)
    try flush()
  }

  /// The file header for the sections written so far.
  private func headerBytes(dataSize: UInt64, featureBits: [UInt64]) -> [UInt8] {
    var header = ByteWriter(capacity: PerfDataFormat.fileHeaderSize)
    header.u64(PerfDataFormat.magic)
    header.u64(UInt64(PerfDataFormat.fileHeaderSize))
    header.u64(UInt64(PerfDataFormat.attrSize + 16))
    header.u64(attrsSection.offset)
    header.u64(attrsSection.size)
    header.u64(dataOffset)
    header.u64(dataSize)
    header.u64(0)  // event_types: unused
    header.u64(0)
    for b in featureBits { header.u64(b) }
    return header.bytes
  }

  /// Rewrites the header in place (file mode).
  private func writeHeader(dataSize: UInt64, featureBits: [UInt64]) throws(SondeError) {
    let header = headerBytes(dataSize: dataSize, featureBits: featureBits)
    try output.descriptor.writeAll(header, at: 0, "pwrite(\(path), header)")
  }

  /// Pipe mode on an opened stream (`-o -`, a FIFO, a character device), as `perf record -o -` writes it:
  /// the 16-byte pipe header, one HEADER_ATTR record per event (attr + ids), the environment as
  /// HEADER_FEATURE records, then the data. `perf report -i -` and `PerfDataFile` read it.
  public init(stream output: OutputFile, events: [PerfDataEvent], features: PerfDataFeatures) throws(SondeError) {
    self.output = output
    path = output.path
    self.events = events
    isPipe = true
    buffer.u64(PerfDataFormat.magic)
    buffer.u64(UInt64(PerfDataFormat.pipeHeaderSize))
    for e in events {
      let start = buffer.bytes.count
      buffer.u32(RecordType.headerAttr)
      buffer.u16(0)
      buffer.u16(0)
      buffer.append(e.fileBytes)
      for id in e.ids { buffer.u64(id) }
      guard let size = UInt16(exactly: buffer.bytes.count - start) else {
        throw SondeError.invalid(
          "write \(path)", "event \(e.name) has \(e.ids.count) ids, more than one pipe-mode HEADER_ATTR record holds",
          remedy: "record to a regular file, or fewer threads or CPUs")
      }
      buffer.patchU16(at: start + 6, size)
    }
    // Build ids come after the data; tracing data travels as its own record (below).
    for feature in FeatureID.allCases where feature != .buildID && feature != .tracingData {
      guard let payload = FeatureCoding.encode(feature, features, events: events) else { continue }
      let start = buffer.bytes.count
      buffer.u32(RecordType.headerFeature)
      buffer.u16(0)
      buffer.u16(0)
      buffer.u64(UInt64(feature.rawValue))
      buffer.append(payload)
      buffer.align(8)
      guard buffer.bytes.count - start <= Int(UInt16.max) else {
        buffer.bytes.removeSubrange(start...)
        continue
      }
      buffer.patchU16(at: start + 6, UInt16(buffer.bytes.count - start))
    }
    if let tracing = features.tracingData { Self.appendTracingDataRecord(tracing.encoded, to: &buffer) }
    try flush()
  }

  /// Pipe mode on a descriptor the caller owns (and closes).
  public convenience init(pipe descriptor: Int32, events: [PerfDataEvent], features: PerfDataFeatures)
    throws(SondeError)
  {
    try self.init(
      stream: OutputFile(borrowing: descriptor, path: "fd \(descriptor)"), events: events, features: features)
  }

  /// PERF_RECORD_HEADER_TRACING_DATA as perf's pipe mode writes it: a 16-byte record (header, u32 size of
  /// the payload padded to 8, u32 padding) whose header size does NOT cover the payload that follows it.
  static func appendTracingDataRecord(_ payload: [UInt8], to buffer: inout ByteWriter) {
    let padded = (payload.count + 7) / 8 * 8
    buffer.u32(RecordType.headerTracingData)
    buffer.u16(0)
    buffer.u16(16)
    buffer.u32(UInt32(padded))
    buffer.u32(0)
    buffer.append(payload)
    buffer.zeros(padded - payload.count)
  }

  /// Appends one record (header included, size a multiple of 8).
  public func append(_ record: UnsafeRawBufferPointer) throws(SondeError) {
    buffer.bytes.append(contentsOf: record)
    position += UInt64(record.count)
    recordCount += 1
    if buffer.bytes.count >= 1 << 20 { try flush() }
  }

  /// Writes `records` records lying in `segments` (in order, e.g. in rings) straight to the file with one
  /// gathering write, after whatever the writer holds: the memory must stay valid only for the call. If the
  /// write stops early (a full disk), the header is made to cover the whole records that reached the file.
  public func write(segments: [UnsafeRawBufferPointer], records: Int) throws(SondeError) {
    if !buffer.bytes.isEmpty { try flush(updatingHeader: false) }
    let (written, error) = output.descriptor.writeAll(segments: segments, "writev(\(path))")
    guard let error else {
      for segment in segments { position += UInt64(segment.count) }
      recordCount += records
      return
    }
    let (whole, count) = Self.wholeRecords(in: segments, upTo: written)
    position += UInt64(whole)
    recordCount += count
    if !isPipe && position > dataOffset {
      try? writeHeader(dataSize: position - dataOffset, featureBits: [0, 0, 0, 0])
      headerCovers = position
    }
    throw Self.explained(error)
  }

  /// How many bytes, and records, of the records laid end to end in `segments` lie wholly in the first
  /// `limit` bytes. A record's 8-byte header never straddles two segments (ring records are 8-aligned).
  static func wholeRecords(in segments: [UnsafeRawBufferPointer], upTo limit: Int) -> (bytes: Int, records: Int) {
    var offset = 0
    var records = 0
    var segment = 0
    var segmentStart = 0
    while offset + 8 <= limit {
      while segment < segments.count && offset >= segmentStart + segments[segment].count {
        segmentStart += segments[segment].count
        segment += 1
      }
      guard segment < segments.count, offset - segmentStart + 8 <= segments[segment].count else { break }
      let size = Int(segments[segment].loadUnaligned(fromByteOffset: offset - segmentStart + 6, as: UInt16.self))
      guard size >= 8, offset + size <= limit else { break }
      offset += size
      records += 1
    }
    return (offset, records)
  }

  public func append(_ record: [UInt8]) throws(SondeError) {
    buffer.append(record)
    position += UInt64(record.count)
    recordCount += 1
    if buffer.bytes.count >= 1 << 20 { try flush() }
  }

  /// Puts every appended record on disk and, in file mode, makes the header's data size cover them: what a
  /// SIGKILL after this call leaves is a valid file with all of them.
  public func sync() throws(SondeError) {
    if !buffer.bytes.isEmpty || headerCovers != position { try flush() }
  }

  /// Writes the feature sections and the header, and closes the file.
  public func finish(features: PerfDataFeatures) throws(SondeError) {
    if isPipe {
      // The stream ends with the data; the environment went out first.
      try flush()
      output.close()
      return
    }
    try flush()
    let dataSection = FileSection(offset: dataOffset, size: position - dataOffset)
    var payloads: [(FeatureID, [UInt8])] = []
    for feature in FeatureID.allCases {
      if let bytes = FeatureCoding.encode(feature, features, events: events) { payloads.append((feature, bytes)) }
    }
    // Feature table (one section per set bit, in bit order) right after the data, then the payloads.
    var offset = position + UInt64(payloads.count * 16)
    for (_, bytes) in payloads {
      buffer.u64(offset)
      buffer.u64(UInt64(bytes.count))
      offset += UInt64(bytes.count)
    }
    for (_, bytes) in payloads { buffer.append(bytes) }
    try flush(updatingHeader: false)
    var bits = [UInt64](repeating: 0, count: 4)
    for (feature, _) in payloads { bits[feature.rawValue / 64] |= 1 << UInt64(feature.rawValue % 64) }
    try writeHeader(dataSize: dataSection.size, featureBits: bits)
    try output.descriptor.sync("fsync(\(path))")
    output.close()
  }

  /// A write failure, with what a full disk means for the file.
  private static func explained(_ error: SondeError) -> SondeError {
    var failure = error
    if error.errno == ENOSPC {
      failure.reason = "no space left on the device; the file keeps the records written before this point"
    }
    return failure
  }

  /// Writes the buffer out; in file mode the header's data size then covers every record on disk (the
  /// feature table `finish` writes after the data is not a record, so it passes `updatingHeader: false`).
  private func flush(updatingHeader: Bool = true) throws(SondeError) {
    do throws(SondeError) {
      try output.descriptor.writeAll(buffer.bytes, "write(\(path))")
    } catch {
      throw Self.explained(error)
    }
    buffer.bytes.removeAll(keepingCapacity: true)
    if !isPipe && updatingHeader {
      if position > dataOffset { try writeHeader(dataSize: position - dataOffset, featureBits: [0, 0, 0, 0]) }
      headerCovers = position
    }
  }
}
