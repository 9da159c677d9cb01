import SondeTestSupport
import Testing

@testable import Symbols

/// LEB128 and DW_EH_PE_* pointer decoding: exact values, limits, and refusals instead of traps.
@Suite struct DwarfEncodingTests {
  private func cursor(_ bytes: [UInt8], at position: Int = 0) -> DwarfCursor {
    DwarfCursor(bytes: bytes, range: position..<bytes.count, failure: .malformedInstructions)
  }

  private func uleb(_ bytes: [UInt8]) -> UInt64? {
    var c = cursor(bytes)
    return try? c.uleb128()
  }

  private func sleb(_ bytes: [UInt8]) -> Int64? {
    var c = cursor(bytes)
    return try? c.sleb128()
  }

  @Test func decodesLEB128AtTheLimitsAndRejectsOverflow() {
    #expect(uleb([0xe5, 0x8e, 0x26]) == 624_485)
    #expect(uleb([0x80, 0x80, 0x00]) == 0)  // redundant padding is allowed
    #expect(uleb([UInt8](repeating: 0xff, count: 9) + [0x01]) == UInt64.max)
    #expect(uleb([UInt8](repeating: 0xff, count: 9) + [0x02]) == nil)  // bit 64
    #expect(uleb([UInt8](repeating: 0x80, count: 10) + [0x00]) == nil)  // 11 bytes
    #expect(uleb([0x80]) == nil)  // truncated
    #expect(uleb([]) == nil)
    #expect(sleb([0x7f]) == -1)
    #expect(sleb([0xc0, 0xbb, 0x78]) == -123_456)
    #expect(sleb([0xd4, 0x7d]) == -300)
    #expect(sleb([UInt8](repeating: 0x80, count: 9) + [0x7f]) == Int64.min)
    #expect(sleb([UInt8](repeating: 0xff, count: 9) + [0x00]) == Int64.max)
    #expect(sleb([UInt8](repeating: 0x80, count: 9) + [0x01]) == nil)
    #expect(sleb([UInt8](repeating: 0xff, count: 10) + [0x7f]) == nil)
  }

  @Test func leb128RoundTripsSeededValues() {
    var random = SeededGenerator(seed: 0x1eb)
    for _ in 0..<5_000 {
      let bits = Int.random(in: 0...64, using: &random)
      let value = bits == 64 ? random.next() : random.next() & ((1 << UInt64(bits)) &- 1)
      #expect(uleb(EhFrameAssembler.uleb(value)) == value)
      let signed = Int64(bitPattern: value)
      #expect(sleb(EhFrameAssembler.sleb(signed)) == signed)
      #expect(sleb(EhFrameAssembler.sleb(signed >> 7)) == signed >> 7)
    }
  }

  @Test func decodesEveryPointerFormatAndBase() throws {
    let bases = PointerBases(section: 0x1000, text: 0x20_0000, data: 0x30_0000, function: nil)
    func decode(_ encoding: UInt8, _ bytes: [UInt8], at position: Int = 0) throws(CFIError) -> UInt64 {
      var c = cursor(bytes, at: position)
      return try c.pointer(DwarfPointerEncoding(rawValue: encoding), bases: bases)
    }
    #expect(try decode(0x00, EhFrameAssembler.le(UInt64(0x1122_3344_5566_7788))) == 0x1122_3344_5566_7788)
    #expect(try decode(0x01, [0xe5, 0x8e, 0x26]) == 624_485)
    #expect(try decode(0x02, [0x34, 0x12]) == 0x1234)
    #expect(try decode(0x03, [0x78, 0x56, 0x34, 0x12]) == 0x1234_5678)
    #expect(try decode(0x04, EhFrameAssembler.le(UInt64.max)) == .max)
    #expect(try decode(0x09, [0x7f]) == UInt64(bitPattern: -1))
    #expect(try decode(0x0a, [0xfe, 0xff]) == UInt64(bitPattern: -2))
    #expect(try decode(0x0c, EhFrameAssembler.le(Int64(-5))) == UInt64(bitPattern: -5))
    // pc-relative: the value is added to the address of the field itself.
    #expect(try decode(0x1b, [0, 0] + EhFrameAssembler.le(Int32(-0x10)), at: 2) == 0x1000 + 2 - 0x10)
    #expect(try decode(0x2b, EhFrameAssembler.le(Int32(0x40))) == 0x20_0040)
    #expect(try decode(0x39, [0x70]) == 0x30_0000 - 0x10)
    // aligned: padding up to the next 8-byte boundary in memory, then an absolute word.
    let aligned = [0, 0, 0] + [UInt8](repeating: 0xee, count: 5) + EhFrameAssembler.le(UInt64(0xabcd))
    #expect(try decode(0x50, aligned, at: 3) == 0xabcd)
    // Unknown base, unknown format, unknown application, truncated value.
    #expect(throws: CFIError.self) { try decode(0x40, [0x01]) }
    #expect(throws: CFIError.self) { try decode(0x05, [0x01]) }
    #expect(throws: CFIError.self) { try decode(0x63, [1, 2, 3, 4]) }
    #expect(throws: CFIError.self) { try decode(0x03, [1, 2, 3]) }
    #expect(throws: CFIError.self) { try decode(0xff, [1]) }
    #expect(DwarfPointerEncoding(rawValue: 0x9b).isIndirect)
    #expect(!DwarfPointerEncoding.omit.isIndirect)
    #expect(DwarfPointerEncoding(rawValue: 0x9b).valueOnly == DwarfPointerEncoding(rawValue: 0x0b))
  }

  @Test func recognisesOnlyTheExactPLTExpression() {
    let lit11: [UInt8] = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22]
    #expect(CFIInterpreter.pltThreshold(lit11[...]) == 11)
    var lit10 = lit11
    lit10[6] = 0x3a
    #expect(CFIInterpreter.pltThreshold(lit10[...]) == 10)
    var other = lit11
    other[1] = 0x10  // DW_OP_breg7 16
    #expect(CFIInterpreter.pltThreshold(other[...]) == nil)
    #expect(CFIInterpreter.pltThreshold(lit11.dropLast()) == nil)
    #expect(CFIInterpreter.pltThreshold([0x77, 0xa0, 0x01, 0x06][...]) == nil)
  }
}
