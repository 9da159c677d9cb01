/// DW_EH_PE_* pointer encodings (LSB Core, "DWARF Extensions": `.eh_frame` and `.eh_frame_hdr`): how CIE
/// augmentation data says FDE addresses, personality routines and LSDA pointers are stored.
///
/// The low nibble is the value's format (absolute word, LEB128, 2/4/8-byte signed or unsigned), bits 4–6 say
/// what it is relative to (nothing, its own address, `.text`, `.got`, the function, or word-aligned), and bit
/// 7 says the value is the address of the real pointer (indirect). 0xff means "omitted".
public struct DwarfPointerEncoding: RawRepresentable, Hashable, Sendable {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// How the value itself is stored.
  public enum Format: UInt8, Sendable {
    /// A target word (8 bytes on x86-64).
    case absolute = 0x00
    case uleb128 = 0x01
    case udata2 = 0x02
    case udata4 = 0x03
    case udata8 = 0x04
    case sleb128 = 0x09
    case sdata2 = 0x0a
    case sdata4 = 0x0b
    case sdata8 = 0x0c
  }

  /// What the stored value is added to.
  public enum Application: UInt8, Sendable {
    case absolute = 0x00
    /// The address of the encoded value itself (the usual choice in position-independent code).
    case pcRelative = 0x10
    /// The start of `.text`.
    case textRelative = 0x20
    /// The start of `.got` (LSB); rare on x86-64.
    case dataRelative = 0x30
    /// The start of the function the FDE describes.
    case functionRelative = 0x40
    /// An absolute word, aligned to 8 bytes in memory.
    case aligned = 0x50
  }

  /// DW_EH_PE_absptr: an absolute target word, the default when a CIE has no 'R' augmentation.
  public static let absolute = DwarfPointerEncoding(rawValue: 0x00)
  /// DW_EH_PE_omit: no value is present.
  public static let omit = DwarfPointerEncoding(rawValue: 0xff)

  /// The storage format, or nil for an unknown low nibble.
  public var format: Format? { Format(rawValue: rawValue & 0x0f) }
  /// The base the value is relative to, or nil for an unknown value of bits 4–6.
  public var application: Application? { Application(rawValue: rawValue & 0x70) }
  /// DW_EH_PE_indirect: the decoded value is the address of the pointer, not the pointer.
  public var isIndirect: Bool { rawValue & 0x80 != 0 && rawValue != 0xff }
  public var isOmitted: Bool { rawValue == 0xff }
  /// The same format, absolute and direct: how an FDE's address range is stored (a length, never relative).
  public var valueOnly: DwarfPointerEncoding { DwarfPointerEncoding(rawValue: rawValue & 0x0f) }
}

/// The base addresses relative encodings need. `section` is the virtual address of byte 0 of the section
/// being read (for pc-relative values); the others are nil when unknown, and a value relative to an
/// unknown base is reported as an unsupported encoding.
struct PointerBases {
  var section: UInt64
  var text: UInt64?
  var data: UInt64?
  var function: UInt64?
}

extension DwarfCursor {
  /// Reads one pointer encoded as `encoding` and applies its base. Indirect values are returned as the
  /// address of the pointer (callers that need the pointer itself must refuse them). `addressSize` is the
  /// size of an absolute word (8 on x86-64).
  mutating func pointer(
    _ encoding: DwarfPointerEncoding, bases: PointerBases, addressSize: Int = 8
  ) throws(CFIError) -> UInt64 {
    guard !encoding.isOmitted else { throw CFIError(reason: failure, detail: "pointer read with DW_EH_PE_omit") }
    guard let format = encoding.format, let application = encoding.application else {
      throw CFIError(
        reason: .unsupportedEncoding, detail: "unknown pointer encoding 0x\(String(encoding.rawValue, radix: 16))")
    }
    var fieldAddress = bases.section &+ UInt64(position)
    if application == .aligned {
      let aligned = (fieldAddress &+ UInt64(addressSize - 1)) & ~UInt64(addressSize - 1)
      try skip(aligned &- fieldAddress, "alignment padding")
      fieldAddress = aligned
    }
    let value: UInt64
    switch format {
    case .absolute: value = try unsigned(width: addressSize, "address")
    case .uleb128: value = try uleb128()
    case .udata2: value = try unsigned(width: 2, "udata2")
    case .udata4: value = try unsigned(width: 4, "udata4")
    case .udata8: value = try unsigned(width: 8, "udata8")
    case .sleb128: value = UInt64(bitPattern: try sleb128())
    case .sdata2: value = UInt64(bitPattern: try signed(width: 2, "sdata2"))
    case .sdata4: value = UInt64(bitPattern: try signed(width: 4, "sdata4"))
    case .sdata8: value = UInt64(bitPattern: try signed(width: 8, "sdata8"))
    }
    let base: UInt64?
    switch application {
    case .absolute, .aligned: base = 0
    case .pcRelative: base = fieldAddress
    case .textRelative: base = bases.text
    case .dataRelative: base = bases.data
    case .functionRelative: base = bases.function
    }
    guard let base else {
      throw CFIError(
        reason: .unsupportedEncoding,
        detail: "pointer encoding 0x\(String(encoding.rawValue, radix: 16)) is relative to an unknown base")
    }
    // Relative values wrap like the address arithmetic they encode (a negative sdata4 plus a base).
    return base &+ value
  }
}
