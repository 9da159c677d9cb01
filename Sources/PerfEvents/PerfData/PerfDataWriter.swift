#if canImport(Glibc)
  import Glibc
#endif

/// Writes a perf.data file (file mode) that perf report/script read: header, attrs with their ids, the
/// data section, and the feature table right after the data.
///
/// Layout: header | ids of every event | attrs | data … | feature table | feature payloads. The header is
/// written last, once every section's offset and size are known, so an interrupted writer leaves a file
/// with a zero data size rather than a lying one. Records must be appended in time order (perf's
/// ordered-events logic relies on it); `RecordSorter` merges per-CPU streams.
public final class PerfDataWriter {
  public let path: String
  private var fd: Int32
  private let events: [PerfDataEvent]
  private var buffer = ByteWriter(capacity: 1 << 20)
  private var position: UInt64 = 0
  private var attrsSection = FileSection(offset: 0, size: 0)
  private var dataOffset: UInt64 = 0
  /// Records appended so far.
  public private(set) var recordCount = 0
  /// Pipe mode: a stream (header, HEADER_ATTR and HEADER_FEATURE records, then data) with no seeking.
  public let isPipe: Bool

  /// Creates (truncates) `path` and writes everything up to the start of the data section.
  public init(path: String, events: [PerfDataEvent]) throws(SondeError) {
    self.path = path
    self.events = events
    isPipe = false
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw SondeError(
        errno == EACCES ? .permissionDenied : .system, operation: "open(\(path))", errno: errno,
        reason: "cannot create the output file", remedy: "choose a writable path with -o")
    }
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
    try flush()
  }

  /// Pipe mode on an already open descriptor (e.g. 1 for `-o -`), as `perf record -o -` writes it:
  /// the 16-byte pipe header, one HEADER_ATTR record per event (attr + ids), the environment as
  /// HEADER_FEATURE records, then the data. `perf report -i -` and `PerfDataFile` read it.
  public init(pipe descriptor: Int32, events: [PerfDataEvent], features: PerfDataFeatures) throws(SondeError) {
    path = "-"
    self.events = events
    isPipe = true
    fd = descriptor
    buffer.u64(PerfDataFormat.magic)
    buffer.u64(UInt64(PerfDataFormat.pipeHeaderSize))
    for e in events {
      let start = buffer.bytes.count
      buffer.u32(RecordType.headerAttr)
      buffer.u16(0)
      buffer.u16(0)
      buffer.append(e.fileBytes)
      for id in e.ids { buffer.u64(id) }
      buffer.patchU16(at: start + 6, UInt16(truncatingIfNeeded: buffer.bytes.count - start))
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

  deinit { if fd >= 0 && !isPipe { close(fd) } }

  /// Appends one record (header included, size a multiple of 8).
  public func append(_ record: UnsafeRawBufferPointer) throws(SondeError) {
    buffer.bytes.append(contentsOf: record)
    position += UInt64(record.count)
    recordCount += 1
    if buffer.bytes.count >= 1 << 20 { try flush() }
  }

  public func append(_ record: [UInt8]) throws(SondeError) {
    buffer.append(record)
    position += UInt64(record.count)
    recordCount += 1
    if buffer.bytes.count >= 1 << 20 { try flush() }
  }

  /// Writes the feature sections and the header, and closes the file.
  public func finish(features: PerfDataFeatures) throws(SondeError) {
    if isPipe {
      // The stream ends with the data; the environment went out first.
      try flush()
      return
    }
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
    try flush()

    var header = ByteWriter(capacity: PerfDataFormat.fileHeaderSize)
    header.u64(PerfDataFormat.magic)
    header.u64(UInt64(PerfDataFormat.fileHeaderSize))
    header.u64(UInt64(PerfDataFormat.attrSize + 16))
    header.u64(attrsSection.offset)
    header.u64(attrsSection.size)
    header.u64(dataSection.offset)
    header.u64(dataSection.size)
    header.u64(0)  // event_types: unused
    header.u64(0)
    var bits = [UInt64](repeating: 0, count: 4)
    for (feature, _) in payloads { bits[feature.rawValue / 64] |= 1 << UInt64(feature.rawValue % 64) }
    for b in bits { header.u64(b) }
    let written = header.bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    if written != header.bytes.count { throw SondeError.system("pwrite(\(path), header)") }
    if fsync(fd) != 0 && errno != EINVAL { throw SondeError.system("fsync(\(path))") }
    close(fd)
    fd = -1
  }

  private func flush() throws(SondeError) {
    var done = 0
    let total = buffer.bytes.count
    while done < total {
      let n = buffer.bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, total - done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw SondeError.system("write(\(path))")
      }
      done += n
    }
    buffer.bytes.removeAll(keepingCapacity: true)
  }
}
