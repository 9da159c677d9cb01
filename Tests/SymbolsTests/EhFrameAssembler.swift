/// Assembles call-frame sections byte by byte for tests: CIEs and FDEs with their lengths, CIE pointers and
/// pc-relative addresses computed, in `.eh_frame` form or 64-bit-DWARF `.debug_frame` form.
struct EhFrameAssembler {
  /// The virtual address the section is loaded at (pc-relative values are relative to it).
  var address: UInt64
  var kind = Kind.ehFrame
  private(set) var bytes: [UInt8] = []

  enum Kind {
    case ehFrame
    /// `.debug_frame` with 64-bit DWARF lengths (0xffffffff escape) and version-4 CIEs.
    case debugFrame64
  }

  static func uleb(_ value: UInt64) -> [UInt8] {
    var value = value
    var out: [UInt8] = []
    repeat {
      var byte = UInt8(value & 0x7f)
      value >>= 7
      if value != 0 { byte |= 0x80 }
      out.append(byte)
    } while value != 0
    return out
  }

  static func sleb(_ value: Int64) -> [UInt8] {
    var value = value
    var out: [UInt8] = []
    while true {
      let byte = UInt8(value & 0x7f)
      value >>= 7
      if (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0) {
        out.append(byte)
        return out
      }
      out.append(byte | 0x80)
    }
  }

  static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
  }

  /// Appends a record whose body is `body(offsetOfBody)`; returns the record's offset.
  @discardableResult
  private mutating func record(_ body: (Int) -> [UInt8]) -> Int {
    let start = bytes.count
    switch kind {
    case .ehFrame:
      let content = body(start + 4)
      bytes += Self.le(UInt32(content.count)) + content
    case .debugFrame64:
      let content = body(start + 12)
      bytes += Self.le(UInt32.max) + Self.le(UInt64(content.count)) + content
    }
    return start
  }

  /// Appends a CIE; returns its offset. `augmentationData` follows the 'z' length when the augmentation
  /// starts with 'z'.
  @discardableResult
  mutating func cie(
    version: UInt8 = 1, augmentation: String = "zR", codeAlignment: UInt64 = 1, dataAlignment: Int64 = -8,
    returnRegister: UInt64 = 16, augmentationData: [UInt8] = [0x1b], instructions: [UInt8]
  ) -> Int {
    let kind = kind
    return record { _ in
      var body: [UInt8] = kind == .ehFrame ? Self.le(UInt32(0)) : Self.le(UInt64.max)
      body.append(version)
      body += Array(augmentation.utf8) + [0]
      if version >= 4 { body += [8, 0] }
      body += Self.uleb(codeAlignment) + Self.sleb(dataAlignment)
      body += version == 1 ? [UInt8(returnRegister)] : Self.uleb(returnRegister)
      if augmentation.hasPrefix("z") { body += Self.uleb(UInt64(augmentationData.count)) + augmentationData }
      return body + instructions
    }
  }

  /// Appends an FDE for `[start, start + length)`. In `.eh_frame` the addresses are pc-relative sdata4
  /// (encoding 0x1b); in `.debug_frame` they are absolute 8-byte words.
  mutating func fde(
    cie: Int, start: UInt64, length: UInt64, augmentationData: [UInt8]? = [], instructions: [UInt8]
  ) {
    fde(cie: cie, start: start, length: length, augmentationData: augmentationData) { _ in instructions }
  }

  /// As above, with the program built from the section offset of its first byte (for `setLocation`).
  mutating func fde(
    cie: Int, start: UInt64, length: UInt64, augmentationData: [UInt8]? = [], program: (Int) -> [UInt8]
  ) {
    let kind = kind
    let address = address
    record { bodyOffset in
      switch kind {
      case .ehFrame:
        var body = Self.le(UInt32(bodyOffset - cie))
        let field = address + UInt64(bodyOffset + 4)
        body += Self.le(Int32(truncatingIfNeeded: Int64(bitPattern: start &- field)))
        body += Self.le(UInt32(length))
        if let augmentationData { body += Self.uleb(UInt64(augmentationData.count)) + augmentationData }
        return body + program(bodyOffset + body.count)
      case .debugFrame64:
        let body = Self.le(UInt64(cie)) + Self.le(start) + Self.le(length)
        return body + program(bodyOffset + body.count)
      }
    }
  }

  /// The bytes of `DW_CFA_set_loc` to `target` when its operand (pc-relative sdata4) lands at section
  /// offset `operandOffset` of a section loaded at `address`.
  static func setLocation(_ target: UInt64, operandAt operandOffset: Int, address: UInt64) -> [UInt8] {
    [0x01] + le(Int32(truncatingIfNeeded: Int64(bitPattern: target &- (address + UInt64(operandOffset)))))
  }

  mutating func terminate() { bytes += [0, 0, 0, 0] }
}
