/// Why a record could not be decoded, and where.
public struct RecordDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Byte offset of the problem, relative to the start of the buffer being decoded.
  public var offset: Int
  public var reason: String

  public init(offset: Int, reason: String) {
    self.offset = offset
    self.reason = reason
  }

  public var description: String { "at byte \(offset): \(reason)" }
}

/// A bounds-checked little-endian reader over borrowed bytes. Never traps on short input: every read
/// checks the remaining length and throws with the offset instead.
public struct ByteCursor {
  public let bytes: UnsafeRawBufferPointer
  public var offset: Int
  /// Reads stop here (exclusive); may be less than `bytes.count` to leave a trailer unread.
  public var limit: Int
  /// Added to offsets in errors, so they name a position in the enclosing file.
  public var base: Int

  public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, limit: Int? = nil, base: Int = 0) {
    self.bytes = bytes
    self.offset = offset
    self.limit = Swift.min(limit ?? bytes.count, bytes.count)
    self.base = base
  }

  public var remaining: Int { limit - offset }

  @inline(__always)
  func fail(_ reason: String) -> RecordDecodeError {
    RecordDecodeError(offset: base + offset, reason: reason)
  }

  @inline(__always)
  mutating func need(_ n: Int, _ what: StaticString) throws(RecordDecodeError) {
    if n < 0 || n > limit - offset {
      throw fail("\(what) needs \(n) bytes but only \(Swift.max(0, limit - offset)) remain")
    }
  }

  @inline(__always)
  public mutating func u64(_ what: StaticString = "u64") throws(RecordDecodeError) -> UInt64 {
    try need(8, what)
    let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
    offset += 8
    return UInt64(littleEndian: v)
  }

  @inline(__always)
  public mutating func u32(_ what: StaticString = "u32") throws(RecordDecodeError) -> UInt32 {
    try need(4, what)
    let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    offset += 4
    return UInt32(littleEndian: v)
  }

  @inline(__always)
  public mutating func u16(_ what: StaticString = "u16") throws(RecordDecodeError) -> UInt16 {
    try need(2, what)
    let v = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    offset += 2
    return UInt16(littleEndian: v)
  }

  @inline(__always)
  public mutating func u8(_ what: StaticString = "u8") throws(RecordDecodeError) -> UInt8 {
    try need(1, what)
    let v = bytes[offset]
    offset += 1
    return v
  }

  /// `count` bytes as an array.
  public mutating func bytes(_ count: Int, _ what: StaticString = "bytes") throws(RecordDecodeError) -> [UInt8] {
    try need(count, what)
    let out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
    offset += count
    return out
  }

  /// `count` u64 values; the count is validated against the remaining bytes before allocating.
  public mutating func u64Array(_ count: UInt64, _ what: StaticString) throws(RecordDecodeError) -> [UInt64] {
    guard count <= UInt64(remaining / 8) else {
      throw fail("\(what) claims \(count) entries but only \(remaining / 8) fit")
    }
    let n = Int(count)
    var out = [UInt64](repeating: 0, count: n)
    for i in 0..<n {
      out[i] = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + i * 8, as: UInt64.self))
    }
    offset += n * 8
    return out
  }

  /// A NUL-terminated string in the next `length` bytes (the rest is padding); consumes all `length`.
  public mutating func paddedString(_ length: Int, _ what: StaticString) throws(RecordDecodeError) -> String {
    try need(length, what)
    let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])
    let end = slice.firstIndex(of: 0) ?? length
    offset += length
    return String(decoding: UnsafeRawBufferPointer(rebasing: slice[0..<end]), as: UTF8.self)
  }

  public mutating func skip(_ n: Int, _ what: StaticString = "padding") throws(RecordDecodeError) {
    try need(n, what)
    offset += n
  }
}

/// A little-endian byte builder, the encoder's counterpart of `ByteCursor`.
public struct ByteWriter {
  public var bytes: [UInt8] = []

  public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

  @inline(__always) public mutating func u64(_ v: UInt64) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
  }
  @inline(__always) public mutating func u32(_ v: UInt32) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
  }
  @inline(__always) public mutating func u16(_ v: UInt16) {
    withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
  }
  @inline(__always) public mutating func u8(_ v: UInt8) { bytes.append(v) }
  public mutating func append(_ data: [UInt8]) { bytes.append(contentsOf: data) }
  public mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
  /// Pads with zeros to a multiple of `alignment`.
  public mutating func align(_ alignment: Int) {
    let r = bytes.count % alignment
    if r != 0 { zeros(alignment - r) }
  }
  /// A string with a NUL, zero-padded so the field ends 8-aligned relative to the start of `bytes`.
  public mutating func paddedString(_ s: String, alignment: Int = 8) {
    bytes.append(contentsOf: Array(s.utf8))
    bytes.append(0)
    align(alignment)
  }
  /// Overwrites a u16 at `offset` (used to patch the header size).
  public mutating func patchU16(at offset: Int, _ v: UInt16) {
    bytes[offset] = UInt8(v & 0xff)
    bytes[offset + 1] = UInt8(v >> 8)
  }
  public mutating func patchU64(at offset: Int, _ v: UInt64) {
    for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
  }
  public mutating func patchU32(at offset: Int, _ v: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
  }
}
