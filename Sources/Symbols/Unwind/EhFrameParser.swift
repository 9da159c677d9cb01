import SondeSystem

/// Which kind of call-frame section is being read. Both hold CIEs and FDEs; they differ in how a CIE is
/// marked and how an FDE finds its CIE.
public enum FrameSectionKind: String, Sendable {
  /// `.eh_frame` (LSB): CIE id 0; an FDE's CIE pointer is the distance back from the pointer field to its
  /// CIE; augmentation strings ("zR", "zPLR", …) say how addresses are encoded; a zero length ends it.
  case ehFrame = ".eh_frame"
  /// `.debug_frame` (DWARF): CIE id 0xffffffff (0xffffffffffffffff in 64-bit DWARF); an FDE's CIE pointer
  /// is a section offset; addresses are absolute target words.
  case debugFrame = ".debug_frame"
}

/// A Common Information Entry: the defaults its FDEs share.
struct CommonInformationEntry {
  var offset: Int
  var version: UInt8
  var codeAlignment: UInt64
  var dataAlignment: Int64
  var returnAddressRegister: UInt64
  /// How FDE addresses are stored ('R'); absolute words by default.
  var pointerEncoding = DwarfPointerEncoding.absolute
  /// Whether FDEs carry an augmentation-data length ('z').
  var hasAugmentationData = false
  /// 'S': the FDEs describe signal trampolines, whose "return address" is not after a call.
  var isSignalFrame = false
  /// The initial instructions (indices into the section).
  var instructions: Range<Int>
}

/// A Frame Description Entry: the address range of one function and the program describing its frames.
struct FrameDescriptionEntry {
  var offset: Int
  var cieOffset: Int
  var start: UInt64
  var end: UInt64
  /// The call-frame program (indices into the section).
  var instructions: Range<Int>
}

/// Walks a `.eh_frame` or `.debug_frame` section record by record, decoding CIEs (once each) and FDEs.
///
/// Record lengths are checked against the section: a length that runs past it (or an unreadable record
/// header) is structural damage and throws, because nothing after it can be located. Damage inside one
/// record — an unknown augmentation, a CIE pointer to nowhere, an unsupported encoding — only skips the FDEs
/// concerned, counted by reason. Every record is at least 8 bytes, so the walk is bounded by the section
/// size and nothing is allocated from a length read out of the file.
struct EhFrameParser {
  let bytes: [UInt8]
  let kind: FrameSectionKind
  let bases: PointerBases

  struct Parsed {
    var cies: [Int: CommonInformationEntry] = [:]
    var fdes: [FrameDescriptionEntry] = []
    var fdesRead = 0
    var skipped: [UnwindTable.SkipReason: Int] = [:]
  }

  /// A record's header: where its body starts and ends, and whether it uses 64-bit DWARF lengths.
  private struct RecordHeader {
    var start: Int
    var bodyStart: Int
    var end: Int
    var is64: Bool
    /// The CIE id / CIE pointer field and where it was read.
    var id: UInt64
    var idPosition: Int
    var idSize: Int
  }

  func parse() throws(SondeError) -> Parsed {
    do throws(CFIError) {
      return try walk()
    } catch {
      throw error.sondeError(section: kind.rawValue)
    }
  }

  private func walk() throws(CFIError) -> Parsed {
    var parsed = Parsed()
    var failedCIEs: [Int: CFIError] = [:]
    var position = 0
    while position < bytes.count {
      if bytes.count - position < 4 {
        // Trailing alignment padding is harmless; anything else is a torn record.
        if bytes[position...].allSatisfy({ $0 == 0 }) { break }
        throw CFIError(reason: .malformedFDE, detail: "torn record header at offset \(position)")
      }
      guard let header = try recordHeader(at: position) else { break }  // zero terminator
      position = header.end
      if isCIE(header) {
        // Decoded here so CIEs no FDE uses are still checked; a bad one is remembered for its FDEs.
        _ = try? cie(at: header.start, into: &parsed, failed: &failedCIEs)
        continue
      }
      parsed.fdesRead += 1
      do throws(CFIError) {
        let cieOffset = try cieOffset(of: header)
        let cie = try cie(at: cieOffset, into: &parsed, failed: &failedCIEs)
        let fde = try frameDescription(header, cie: cie, cieOffset: cieOffset)
        guard fde.end > fde.start else { throw CFIError(reason: .emptyRange, detail: "FDE covers no addresses") }
        parsed.fdes.append(fde)
      } catch {
        parsed.skipped[error.reason, default: 0] += 1
      }
    }
    return parsed
  }

  /// Reads the length and id of the record at `offset`; nil for a zero terminator. Throws when the length
  /// runs past the section.
  private func recordHeader(at offset: Int) throws(CFIError) -> RecordHeader? {
    var cursor = DwarfCursor(bytes: bytes, range: offset..<bytes.count, failure: .malformedFDE)
    var length = UInt64(try cursor.u32())
    if length == 0 { return nil }
    let is64 = length == 0xffff_ffff
    if is64 { length = try cursor.u64() }
    let bodyStart = cursor.position
    guard length <= UInt64(bytes.count - bodyStart) else {
      throw CFIError(
        reason: .malformedFDE,
        detail: "record at offset \(offset) has length \(length), past the end of the \(bytes.count)-byte section")
    }
    let end = bodyStart + Int(length)
    // .eh_frame keeps a 4-byte CIE id even with a 64-bit length; 64-bit .debug_frame widens it.
    let idSize = kind == .debugFrame && is64 ? 8 : 4
    guard length >= UInt64(idSize) else {
      throw CFIError(reason: .malformedFDE, detail: "record at offset \(offset) is too short (\(length) bytes)")
    }
    let id = try cursor.unsigned(width: idSize, "CIE id")
    return RecordHeader(
      start: offset, bodyStart: bodyStart, end: end, is64: is64, id: id, idPosition: bodyStart, idSize: idSize)
  }

  private func isCIE(_ header: RecordHeader) -> Bool {
    switch kind {
    case .ehFrame: header.id == 0
    case .debugFrame: header.id == (header.idSize == 8 ? UInt64.max : 0xffff_ffff)
    }
  }

  /// The section offset of the CIE an FDE refers to.
  private func cieOffset(of header: RecordHeader) throws(CFIError) -> Int {
    switch kind {
    case .ehFrame:
      // A backward distance from the CIE pointer field itself.
      guard header.id <= UInt64(header.idPosition) else {
        throw CFIError(reason: .malformedFDE, detail: "CIE pointer \(header.id) points before the section")
      }
      return header.idPosition - Int(header.id)
    case .debugFrame:
      guard header.id < UInt64(bytes.count) else {
        throw CFIError(reason: .malformedFDE, detail: "CIE offset \(header.id) is past the section")
      }
      return Int(header.id)
    }
  }

  /// The CIE whose record starts at `offset`, decoded once and cached (failures too).
  private func cie(
    at offset: Int, into parsed: inout Parsed, failed: inout [Int: CFIError]
  ) throws(CFIError) -> CommonInformationEntry {
    if let cached = parsed.cies[offset] { return cached }
    if let error = failed[offset] { throw error }
    do throws(CFIError) {
      guard let header = try? recordHeader(at: offset), isCIE(header) else {
        throw CFIError(reason: .malformedFDE, detail: "no CIE at offset \(offset)")
      }
      let cie = try commonInformation(header, offset: offset)
      parsed.cies[offset] = cie
      return cie
    } catch {
      failed[offset] = error
      throw error
    }
  }

  private func commonInformation(_ header: RecordHeader, offset: Int) throws(CFIError) -> CommonInformationEntry {
    var cursor = DwarfCursor(
      bytes: bytes, range: (header.idPosition + header.idSize)..<header.end, failure: .malformedCIE)
    let version = try cursor.u8()
    guard version == 1 || version == 3 || version == 4 else { throw cursor.error("CIE version \(version)") }
    let augmentation = Array(try cursor.cString())
    if version >= 4 {
      let addressSize = try cursor.u8()
      let segmentSize = try cursor.u8()
      guard addressSize == 8, segmentSize == 0 else {
        throw cursor.error("address size \(addressSize), segment size \(segmentSize) (x86-64 needs 8 and 0)")
      }
    }
    // "eh" (a pre-GCC-3 pointer to exception data, of unknown size) cannot be skipped reliably.
    if augmentation.starts(with: Array("eh".utf8)) { throw cursor.error("legacy \"eh\" augmentation") }
    let codeAlignment = try cursor.uleb128()
    let dataAlignment = try cursor.sleb128()
    let returnAddressRegister = version == 1 ? UInt64(try cursor.u8()) : try cursor.uleb128()
    var cie = CommonInformationEntry(
      offset: offset, version: version, codeAlignment: codeAlignment, dataAlignment: dataAlignment,
      returnAddressRegister: returnAddressRegister, instructions: 0..<0)
    if augmentation.first == UInt8(ascii: "z") {
      cie.hasAugmentationData = true
      let length = try cursor.uleb128()
      guard length <= UInt64(cursor.remaining) else { throw cursor.error("augmentation data longer than the CIE") }
      let dataEnd = cursor.position + Int(length)
      var data = DwarfCursor(bytes: bytes, range: cursor.position..<dataEnd, failure: .malformedCIE)
      letters: for letter in augmentation.dropFirst() {
        switch letter {
        case UInt8(ascii: "R"): cie.pointerEncoding = DwarfPointerEncoding(rawValue: try data.u8())
        case UInt8(ascii: "L"): _ = try data.u8()  // LSDA encoding: only FDE augmentation data uses it
        case UInt8(ascii: "P"):
          // The personality routine: decoded only to step over it, whatever its encoding.
          let encoding = DwarfPointerEncoding(rawValue: try data.u8())
          _ = try data.pointer(encoding, bases: bases)
        case UInt8(ascii: "S"): cie.isSignalFrame = true
        case UInt8(ascii: "B"), UInt8(ascii: "G"): break  // AArch64 markers, no data
        default: break letters  // 'z' gave the length: the rest of the data can be skipped unread
        }
      }
      cursor.position = dataEnd
    } else if !augmentation.isEmpty {
      throw cursor.error("augmentation \"\(String(decoding: augmentation, as: UTF8.self))\" without 'z'")
    }
    guard cie.pointerEncoding.format != nil, cie.pointerEncoding.application != nil, !cie.pointerEncoding.isOmitted
    else {
      throw CFIError(
        reason: .unsupportedEncoding,
        detail: "FDE pointer encoding 0x\(String(cie.pointerEncoding.rawValue, radix: 16))")
    }
    cie.instructions = cursor.position..<header.end
    return cie
  }

  private func frameDescription(
    _ header: RecordHeader, cie: CommonInformationEntry, cieOffset: Int
  ) throws(CFIError) -> FrameDescriptionEntry {
    var cursor = DwarfCursor(
      bytes: bytes, range: (header.idPosition + header.idSize)..<header.end, failure: .malformedFDE)
    let encoding = cie.pointerEncoding
    guard !encoding.isIndirect else {
      throw CFIError(reason: .unsupportedEncoding, detail: "indirect FDE address encoding")
    }
    let start = try cursor.pointer(encoding, bases: bases)
    let length = try cursor.pointer(encoding.valueOnly, bases: bases)
    let (end, overflow) = start.addingReportingOverflow(length)
    guard !overflow else { throw cursor.error("FDE range \(start) + \(length) overflows") }
    if cie.hasAugmentationData { try cursor.skip(try cursor.uleb128(), "FDE augmentation data") }
    return FrameDescriptionEntry(
      offset: header.start, cieOffset: cieOffset, start: start, end: end,
      instructions: cursor.position..<header.end)
  }
}
