import SondeSystem
#if canImport(Glibc)
  import Glibc
#endif

/// Reads a perf.data input that cannot be mapped (standard input, a FIFO, a character device) and checks
/// it while reading: the magic first, then, for pipe-mode streams, each record's framing as it arrives.
/// Memory grows only with bytes that parsed as records; the first bad bytes end the read with an error.
enum PerfDataStream {
  static func read(fd: FileDescriptor, path: String) throws(SondeError) -> [UInt8] {
    var data: [UInt8] = []
    guard try fill(&data, to: 8, fd: fd, path: path) else {
      throw corrupt(path, 0, data.isEmpty ? "the input is empty" : "the input ends inside the magic")
    }
    let magic = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    if magic == PerfDataFormat.swappedMagic {
      throw SondeError(
        .notSupported, operation: "read \(path)", reason: "the file was written on a big-endian machine")
    }
    guard magic == PerfDataFormat.magic else {
      throw corrupt(path, 0, "not a perf.data file (bad magic; expected PERFILE2)")
    }
    guard try fill(&data, to: 16, fd: fd, path: path) else {
      throw corrupt(path, 8, "the input ends inside the header")
    }
    let headerSize = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
    guard headerSize == UInt64(PerfDataFormat.pipeHeaderSize) else {
      // A file-mode header on a stream: its sections are found by offset, so the whole input is needed.
      while try fill(&data, to: data.count + (1 << 16), fd: fd, path: path) {}
      return data
    }
    // Pipe mode: record by record.
    var start = 16
    while true {
      guard try fill(&data, to: start + 8, fd: fd, path: path) else {
        if data.count == start { return data }
        throw corrupt(path, start, "the stream ends inside a record header")
      }
      let (type, size) = data.withUnsafeBytes {
        (
          UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self)),
          Int(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: start + 6, as: UInt16.self)))
        )
      }
      guard size >= 8 else { throw corrupt(path, start + 6, "record type \(type) has size \(size)") }
      var total = size
      if type == RecordType.headerTracingData && size >= 16 {
        // The tracing data payload follows its 16-byte record, outside the header's size.
        guard try fill(&data, to: start + 16, fd: fd, path: path) else {
          throw corrupt(path, start, "the stream ends inside a record")
        }
        let payload = data.withUnsafeBytes {
          Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start + 8, as: UInt32.self)))
        }
        total += payload
      }
      guard try fill(&data, to: start + total, fd: fd, path: path) else {
        throw corrupt(path, start, "the stream ends inside a record of \(total) bytes")
      }
      start += total
    }
  }

  /// Reads until `data` holds at least `count` bytes, reading ahead at most 64 KiB past what was asked for
  /// (so unchecked bytes in memory stay bounded); false when the input ends first.
  private static func fill(_ data: inout [UInt8], to count: Int, fd: FileDescriptor, path: String)
    throws(SondeError) -> Bool
  {
    while data.count < count {
      let old = data.count
      let want = max(count - old, 1 << 16)
      data.append(contentsOf: repeatElement(0, count: want))
      let n: Int
      do {
        n = try fd.read(into: &data, range: old..<(old + want), "read(\(path))")
      } catch {
        data.removeLast(want)
        throw error
      }
      data.removeLast(want - n)
      if n == 0 { return false }
    }
    return true
  }

  private static func corrupt(_ path: String, _ offset: Int, _ reason: String) -> SondeError {
    SondeError(.corruptData, operation: "read \(path)", reason: "corrupt perf.data at byte \(offset): \(reason)")
  }
}
