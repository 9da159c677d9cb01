/// A growing buffer of UTF-8 text for outputs written line by line at volume (perf-script style): numbers
/// are formatted straight into the bytes, so a line costs no intermediate strings.
public struct ByteText: Sendable {
  public private(set) var bytes: [UInt8] = []

  public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

  public var count: Int { bytes.count }

  public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

  @inline(__always)
  public mutating func append(_ byte: UInt8) { bytes.append(byte) }

  public mutating func append(_ text: String) {
    var text = text
    text.withUTF8 { bytes.append(contentsOf: $0) }
  }

  public mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

  /// Appends `count` copies of `byte`.
  public mutating func append(repeating byte: UInt8, count: Int) {
    if count > 0 { bytes.append(contentsOf: repeatElement(byte, count: count)) }
  }

  /// Appends `text` right-aligned in `width` columns (counted in bytes; longer text is not cut).
  public mutating func appendRight(_ text: String, width: Int) {
    append(repeating: 0x20, count: width - text.utf8.count)
    append(text)
  }

  /// Appends `text` left-aligned in `width` columns.
  public mutating func appendLeft(_ text: String, width: Int) {
    append(text)
    append(repeating: 0x20, count: width - text.utf8.count)
  }

  /// Appends `value` in decimal, right-aligned in `width` columns filled with `fill` (a space or "0").
  public mutating func appendDecimal(_ value: UInt64, width: Int = 0, fill: UInt8 = 0x20) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for the 20 digits of UInt64.max
    let count = withUnsafeMutableBytes(of: &digits) { buffer -> Int in
      var v = value
      var i = buffer.count
      repeat {
        i -= 1
        buffer[i] = UInt8(truncatingIfNeeded: v % 10) + 0x30
        v /= 10
      } while v != 0
      return buffer.count - i
    }
    append(repeating: fill, count: width - count)
    withUnsafeBytes(of: &digits) { bytes.append(contentsOf: $0[($0.count - count)...]) }
  }

  /// Appends `value` in lower-case hexadecimal without a prefix, right-aligned in `width` columns.
  public mutating func appendHex(_ value: UInt64, width: Int = 0) {
    let count = value == 0 ? 1 : (64 - value.leadingZeroBitCount + 3) / 4
    append(repeating: 0x20, count: width - count)
    var shift = (count - 1) * 4
    while shift >= 0 {
      let nibble = UInt8(truncatingIfNeeded: value >> UInt64(shift) & 0xf)
      bytes.append(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
      shift -= 4
    }
  }
}
