import SondeSystem
import Testing

@testable import Symbols

/// Hand-assembled call-frame sections with exactly known rows: every opcode family, both section kinds,
/// and each reason an FDE is skipped.
@Suite struct CallFrameProgramTests {
  static let sectionAddress: UInt64 = 0x10_0000
  /// def_cfa rsp+8; return address at cfa-8 (what gcc's x86-64 CIEs say).
  static let cieProgram: [UInt8] = [0x0c, 0x07, 0x08, 0x90, 0x01]
  /// DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litN; DW_OP_ge; DW_OP_lit3; DW_OP_shl;
  /// DW_OP_plus.
  static func pltExpression(_ literal: UInt8) -> [UInt8] {
    [0x0f, 11, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x30 + literal, 0x2a, 0x33, 0x24, 0x22]
  }

  static func rule(
    _ cfa: UnwindRule.CFA, _ rbp: UnwindRule.Register = .sameValue, ra: UnwindRule.ReturnAddress = .offset(-8)
  )
    -> UnwindRule
  {
    UnwindRule(cfa: cfa, rbp: rbp, returnAddress: ra)
  }

  @Test func assembledEhFrameGivesExactRowsAndSkipReasons() throws {
    var a = EhFrameAssembler(address: Self.sectionAddress)
    let cie = a.cie(instructions: Self.cieProgram + [0, 0])
    // A: a function that sets up rbp, with an epilogue wrapped in remember/restore_state.
    a.fde(
      cie: cie, start: 0x1000, length: 0x200,
      instructions: [
        0x41,  // advance_loc 1
        0x0e, 0x10,  // def_cfa_offset 16
        0x86, 0x02,  // offset rbp, cfa-16
        0x43,  // advance_loc 3
        0x0d, 0x06,  // def_cfa_register rbp
        0x04, 0x00, 0x01, 0x00, 0x00,  // advance_loc4 0x100
        0x0a,  // remember_state
        0x0c, 0x07, 0x08,  // def_cfa rsp, 8
        0xc6,  // restore rbp
        0x41,  // advance_loc 1
        0x0b,  // restore_state
        0x02, 0x10,  // advance_loc1 16
        0x12, 0x07, 0x7d,  // def_cfa_sf rsp, -3 × -8
        0x11, 0x06, 0x03,  // offset_extended_sf rbp, 3 × -8
        0x13, 0xd4, 0x7d,  // def_cfa_offset_sf -300 × -8 (a two-byte SLEB)
        0x03, 0x20, 0x00,  // advance_loc2 0x20
        0x0e, 0x08,  // def_cfa_offset 8
        0x00,  // nop
      ])
    // B, right after A: the outermost frame.
    a.fde(cie: cie, start: 0x1200, length: 0x20, instructions: [0x07, 0x10])
    // C and D: the two PLT expression variants, back to back.
    a.fde(
      cie: cie, start: 0x2000, length: 0x40,
      instructions: [0x0e, 0x10, 0x46, 0x0e, 0x18, 0x4a] + Self.pltExpression(11))
    a.fde(cie: cie, start: 0x2040, length: 0x10, instructions: Self.pltExpression(10))
    // E: a signal-frame-like CFA expression and an rbp saved by expression: outside the model.
    a.fde(
      cie: cie, start: 0x3000, length: 0x10,
      instructions: [0x0f, 0x04, 0x77, 0xa0, 0x01, 0x06, 0x10, 0x06, 0x02, 0x76, 0x00])
    // Skipped: unknown opcode, restore_state with nothing remembered, 65 nested states, overlap, empty.
    a.fde(cie: cie, start: 0x4000, length: 0x10, instructions: [0x41, 0x3f])
    a.fde(cie: cie, start: 0x5000, length: 0x10, instructions: [0x0b])
    a.fde(cie: cie, start: 0x6000, length: 0x10, instructions: [UInt8](repeating: 0x0a, count: 65))
    a.fde(cie: cie, start: 0x1100, length: 0x10, instructions: [])
    a.fde(cie: cie, start: 0x6800, length: 0, instructions: [])
    // K: a "zPLR" CIE (indirect pc-relative personality, LSDA pointers in FDE augmentation data), set_loc,
    // GNU_args_size and GNU_negative_offset_extended.
    let personalityCIE = a.cie(
      augmentation: "zPLR", augmentationData: [0x9b] + EhFrameAssembler.le(Int32(0x40)) + [0x1b, 0x1b],
      instructions: Self.cieProgram)
    a.fde(cie: personalityCIE, start: 0x7000, length: 0x10, augmentationData: EhFrameAssembler.le(Int32(0))) {
      [0x41, 0x0e, 0x10, 0x05, 0x06, 0x02, 0x2e, 0x00]
        + EhFrameAssembler.setLocation(0x7008, operandAt: $0 + 9, address: Self.sectionAddress) + [0x2f, 0x06, 0x03]
    }
    // Skipped by CIE: a legacy "eh" augmentation, an unknown version, an indirect FDE address encoding.
    let legacy = a.cie(augmentation: "eh", instructions: Self.cieProgram)
    a.fde(cie: legacy, start: 0x8000, length: 0x10, augmentationData: nil, instructions: [])
    let version2 = a.cie(version: 2, instructions: Self.cieProgram)
    a.fde(cie: version2, start: 0x8100, length: 0x10, instructions: [])
    let indirect = a.cie(augmentationData: [0x9b], instructions: Self.cieProgram)
    a.fde(cie: indirect, start: 0x9000, length: 0x10, instructions: [])
    a.terminate()

    let table = try UnwindTable.build(frameSection: a.bytes, kind: .ehFrame, address: Self.sectionAddress)
    let expected: [UnwindRow] = [
      .init(address: 0x1000, rule: Self.rule(.rspOffset(8))),
      .init(address: 0x1001, rule: Self.rule(.rspOffset(16), .offset(-16))),
      .init(address: 0x1004, rule: Self.rule(.rbpOffset(16), .offset(-16))),
      .init(address: 0x1104, rule: Self.rule(.rspOffset(8))),
      .init(address: 0x1105, rule: Self.rule(.rbpOffset(16), .offset(-16))),
      .init(address: 0x1115, rule: Self.rule(.rspOffset(2400), .offset(-24))),
      .init(address: 0x1135, rule: Self.rule(.rspOffset(8), .offset(-24))),
      .init(address: 0x1200, rule: Self.rule(.rspOffset(8), ra: .endOfStack)),
      .init(address: 0x1220, rule: nil),
      .init(address: 0x2000, rule: Self.rule(.rspOffset(16))),
      .init(address: 0x2006, rule: Self.rule(.rspOffset(24))),
      .init(address: 0x2010, rule: Self.rule(.pltExpression(threshold: 11))),
      .init(address: 0x2040, rule: Self.rule(.pltExpression(threshold: 10))),
      .init(address: 0x2050, rule: nil),
      .init(address: 0x3000, rule: Self.rule(.unsupported, .unsupported)),
      .init(address: 0x3010, rule: nil),
      .init(address: 0x7000, rule: Self.rule(.rspOffset(8))),
      .init(address: 0x7001, rule: Self.rule(.rspOffset(16), .offset(-16))),
      .init(address: 0x7008, rule: Self.rule(.rspOffset(16), .offset(24))),
      .init(address: 0x7010, rule: nil),
    ]
    #expect(table.rows == expected)
    #expect(table.stats.fdesRead == 14)
    #expect(table.stats.fdesUsed == 6)
    #expect(table.stats.cies == 3)
    #expect(
      table.stats.fdesSkipped == [
        .unknownOpcode: 1, .malformedInstructions: 1, .limitExceeded: 1, .overlapping: 1, .emptyRange: 1,
        .malformedCIE: 2, .unsupportedEncoding: 1,
      ])
    #expect(table.stats.unsupportedRows == 1)
    #expect(table.stats.endOfStackRows == 1)
    // Lookups: inside rows, at gaps, before the first row and past the last.
    #expect(table.lookup(0x0fff) == nil)
    #expect(table.lookup(0x1003) == Self.rule(.rspOffset(16), .offset(-16)))
    #expect(table.lookup(0x11ff) == Self.rule(.rspOffset(8), .offset(-24)))
    #expect(table.lookup(0x1230) == nil)
    #expect(table.lookup(0x4008) == nil)
    #expect(table.lookup(0x704f) == nil)
    #expect(table.lookup(.max) == nil)
  }

  @Test func sixtyFourBitDebugFrameUsesSectionOffsetCIEPointers() throws {
    var a = EhFrameAssembler(address: 0, kind: .debugFrame64)
    // A CIE that no FDE uses, then the one they do: CIE pointers are section offsets, not distances.
    a.cie(version: 4, augmentation: "", instructions: [0x0c, 0x07, 0x10])
    let cie = a.cie(version: 4, augmentation: "", returnRegister: 16, instructions: Self.cieProgram)
    a.fde(cie: cie, start: 0x40_1000, length: 0x30, instructions: [0x44, 0x0e, 0x20, 0x86, 0x03])
    let table = try UnwindTable.build(frameSection: a.bytes, kind: .debugFrame, address: 0)
    #expect(
      table.rows == [
        .init(address: 0x40_1000, rule: Self.rule(.rspOffset(8))),
        .init(address: 0x40_1004, rule: Self.rule(.rspOffset(32), .offset(-24))),
        .init(address: 0x40_1030, rule: nil),
      ])
    #expect(table.stats.cies == 2)
    #expect(table.stats.fdesUsed == 1)
  }

  @Test func recordLengthPastTheSectionIsAnErrorNotACrash() throws {
    var a = EhFrameAssembler(address: Self.sectionAddress)
    let cie = a.cie(instructions: Self.cieProgram)
    a.fde(cie: cie, start: 0x1000, length: 0x10, instructions: [])
    var bytes = a.bytes
    bytes.replaceSubrange(0..<4, with: EhFrameAssembler.le(UInt32(0xffff_fff0)))
    #expect(throws: SondeError.self) {
      try UnwindTable.build(frameSection: bytes, kind: .ehFrame, address: Self.sectionAddress)
    }
    // The 64-bit escape with an absurd length.
    let escaped = EhFrameAssembler.le(UInt32.max) + EhFrameAssembler.le(UInt64.max) + [UInt8](repeating: 0, count: 16)
    #expect(throws: SondeError.self) {
      try UnwindTable.build(frameSection: escaped, kind: .ehFrame, address: Self.sectionAddress)
    }
    // A torn header (two bytes that are not padding).
    #expect(throws: SondeError.self) {
      try UnwindTable.build(frameSection: a.bytes + [1, 2], kind: .ehFrame, address: Self.sectionAddress)
    }
    // Zero padding after the last record, and an empty section, are fine.
    #expect(try UnwindTable.build(frameSection: a.bytes + [0, 0], kind: .ehFrame, address: 0).stats.fdesRead == 1)
    #expect(try UnwindTable.build(frameSection: [], kind: .ehFrame, address: 0).isEmpty)
  }

  @Test func lookupReturnsTheLastRowAtOrBeforeTheAddress() {
    let a = Self.rule(.rspOffset(8))
    let b = Self.rule(.rspOffset(16))
    let table = UnwindTable(rows: [
      .init(address: 0x30, rule: nil), .init(address: 0x10, rule: a), .init(address: 0x20, rule: b),
    ])
    #expect(table.rows.map(\.address) == [0x10, 0x20, 0x30])
    #expect(table.lookup(0x0f) == nil)
    #expect(table.lookup(0x10) == a)
    #expect(table.lookup(0x1f) == a)
    #expect(table.lookup(0x20) == b)
    #expect(table.lookup(0x30) == nil)
    #expect(table.stats.uniqueRules == 2)
    #expect(UnwindTable(rows: []).lookup(0) == nil)
  }
}
