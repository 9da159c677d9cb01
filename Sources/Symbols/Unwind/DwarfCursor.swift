import SondeSystem

/// Bounds-checked little-endian reads over a call-frame section (`.eh_frame`, `.debug_frame`): fixed-width
/// integers, ULEB128/SLEB128 and blocks, each checked against the end of the record being read.
///
/// The cursor reads untrusted bytes, so every accessor throws `CFIError` instead of trapping: a truncated
/// field, a LEB128 longer than 10 bytes or one whose value does not fit 64 bits. The error carries the skip
/// reason the cursor was created with, so a short operand inside an FDE program says "malformed
/// instructions" while the same short read in a CIE says "malformed CIE".
struct DwarfCursor {
  let bytes: [UInt8]
  /// Index of the next byte to read.
  var position: Int
  /// One past the last byte this cursor may read (the end of the current record or program).
  let limit: Int
  /// The reason reported when a read fails.
  let failure: UnwindTable.SkipReason

  /// A cursor over `range` of `bytes`; `range` is clamped to the array so a bad caller cannot over-read.
  init(bytes: [UInt8], range: Range<Int>, failure: UnwindTable.SkipReason) {
    self.bytes = bytes
    let lower = min(max(range.lowerBound, 0), bytes.count)
    position = lower
    limit = min(max(range.upperBound, lower), bytes.count)
    self.failure = failure
  }

  var isAtEnd: Bool { position >= limit }
  var remaining: Int { limit - position }

  func error(_ detail: String) -> CFIError { CFIError(reason: failure, detail: detail) }

  /// Claims `count` bytes and returns the index of the first one.
  private mutating func take(_ count: Int, _ what: String) throws(CFIError) -> Int {
    guard count >= 0, count <= remaining else {
      throw error("\(what) at offset \(position) needs \(count) bytes, \(remaining) left")
    }
    defer { position += count }
    return position
  }

  /// An unsigned little-endian integer of `width` bytes (1...8).
  mutating func unsigned(width: Int, _ what: String = "field") throws(CFIError) -> UInt64 {
    let start = try take(width, what)
    var value: UInt64 = 0
    for index in 0..<width { value |= UInt64(bytes[start + index]) << (8 * UInt64(index)) }
    return value
  }

  /// A signed little-endian integer of `width` bytes (1...8), sign-extended.
  mutating func signed(width: Int, _ what: String = "field") throws(CFIError) -> Int64 {
    let raw = try unsigned(width: width, what)
    let shift = UInt64(64 - 8 * width)
    return Int64(bitPattern: raw << shift) >> shift
  }

  mutating func u8() throws(CFIError) -> UInt8 { UInt8(try unsigned(width: 1, "byte")) }
  mutating func u16() throws(CFIError) -> UInt16 { UInt16(try unsigned(width: 2, "u16")) }
  mutating func u32() throws(CFIError) -> UInt32 { UInt32(try unsigned(width: 4, "u32")) }
  mutating func u64() throws(CFIError) -> UInt64 { try unsigned(width: 8, "u64") }

  /// An unsigned LEB128. At most 10 bytes, and the tenth may only carry bit 63: anything longer or larger
  /// does not fit a `UInt64` and is rejected rather than truncated.
  mutating func uleb128() throws(CFIError) -> UInt64 {
    let start = position
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let byte = try u8()
      let bits = UInt64(byte & 0x7f)
      if shift == 63, bits > 1 { throw error("ULEB128 at offset \(start) overflows 64 bits") }
      result |= bits << shift
      if byte & 0x80 == 0 { return result }
      shift += 7
      if shift > 63 { throw error("ULEB128 at offset \(start) is longer than 10 bytes") }
    }
  }

  /// A signed LEB128, with the same 10-byte / 64-bit limits as `uleb128()`.
  mutating func sleb128() throws(CFIError) -> Int64 {
    let start = position
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while true {
      let byte = try u8()
      let bits = UInt64(byte & 0x7f)
      // The tenth byte holds bit 63; its other bits are sign extension and must agree with it.
      if shift == 63, bits != 0, bits != 0x7f { throw error("SLEB128 at offset \(start) overflows 64 bits") }
      result |= bits << shift
      shift += 7
      if byte & 0x80 == 0 {
        if shift < 64, byte & 0x40 != 0 { result |= ~0 << shift }
        return Int64(bitPattern: result)
      }
      if shift > 63 { throw error("SLEB128 at offset \(start) is longer than 10 bytes") }
    }
  }

  /// Skips `count` bytes.
  mutating func skip(_ count: UInt64, _ what: String = "bytes") throws(CFIError) {
    guard count <= UInt64(remaining) else {
      throw error("\(what) at offset \(position) of \(count) bytes runs past the end (\(remaining) left)")
    }
    position += Int(count)
  }

  /// A ULEB128 length followed by that many bytes (a DWARF expression block); returns the block's range.
  mutating func block() throws(CFIError) -> Range<Int> {
    let length = try uleb128()
    let start = position
    try skip(length, "expression block")
    return start..<position
  }

  /// A NUL-terminated string inside the cursor's range, as bytes without the terminator.
  mutating func cString() throws(CFIError) -> ArraySlice<UInt8> {
    guard let terminator = bytes[position..<limit].firstIndex(of: 0) else {
      throw error("string at offset \(position) has no terminator")
    }
    defer { position = terminator + 1 }
    return bytes[position..<terminator]
  }
}

/// Why a CIE, an FDE or a whole call-frame section could not be used. Internal: the parser counts it as a
/// skipped FDE, or turns a structural one (a record running past its section) into a `SondeError`.
struct CFIError: Error {
  var reason: UnwindTable.SkipReason
  var detail: String

  /// The public form, naming the section the error was found in.
  func sondeError(section: String) -> SondeError {
    SondeError(
      .corruptData, operation: "read call-frame information (\(section))", reason: detail,
      remedy: "the file is truncated or its \(section) section is corrupt")
  }
}
