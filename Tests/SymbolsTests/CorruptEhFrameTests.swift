import Foundation
import SondeSystem
import SondeTestSupport
import Testing

@testable import Symbols

/// Damaged call-frame sections give a table or a `SondeError`, never a trap or a hang: mutants of libc's
/// real `.eh_frame` (generated each run from a fixed seed) go through the parser, the interpreter, lookups
/// and the unwinder.
@Suite struct CorruptEhFrameTests {
  /// The section offsets of the records in `bytes` (stopping at the terminator or at damage).
  static func recordStarts(_ bytes: [UInt8]) -> [Int] {
    var starts: [Int] = []
    var position = 0
    while position + 4 <= bytes.count {
      let length = (0..<4).reduce(0) { $0 | Int(bytes[position + $1]) << (8 * $1) }
      guard length != 0, length != 0xffff_ffff, position + 4 + length <= bytes.count else { break }
      starts.append(position)
      position += 4 + length
    }
    return starts
  }

  struct Mutator {
    var random: SeededGenerator
    let records: [Int]

    mutating func mutate(_ original: [UInt8]) -> [UInt8] {
      var bytes = original
      func put(_ offset: Int, _ value: UInt64, width: Int) {
        guard offset >= 0, offset + width <= bytes.count else { return }
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
      }
      let record = records.randomElement(using: &random) ?? 0
      let absurd: [UInt64] = [0xffff_fff0, 0x7fff_ffff, UInt64(bytes.count), UInt64(bytes.count - record), 1, 3, 5, 0]
      switch Int.random(in: 0..<8, using: &random) {
      case 0:  // truncate anywhere
        bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
      case 1:  // an absurd record length
        put(record, absurd.randomElement(using: &random)!, width: 4)
      case 2:  // the 64-bit escape with a huge length
        put(record, 0xffff_ffff, width: 4)
        put(record + 4, UInt64.random(in: 0...UInt64.max, using: &random), width: 8)
      case 3:  // a CIE pointer or CIE id to anywhere
        put(
          record + 4,
          [0, 0xffff_ffff, UInt64(record + 4), UInt64.random(in: 0...0xffff, using: &random)]
            .randomElement(using: &random)!, width: 4)
      case 4:  // damage inside a record: augmentation, encodings, programs
        let length =
          records.firstIndex(of: record).flatMap { $0 + 1 < records.count ? records[$0 + 1] - record : nil } ?? 16
        for _ in 0..<Int.random(in: 1...8, using: &random) {
          bytes[min(bytes.count - 1, record + Int.random(in: 4..<max(5, length), using: &random))] =
            UInt8.random(in: 0...255, using: &random)
        }
      case 5:  // endless LEB128s
        let start = Int.random(in: 0..<bytes.count, using: &random)
        for i in start..<min(bytes.count, start + Int.random(in: 1...24, using: &random)) { bytes[i] = 0xff }
      case 6:  // nested remember_state and opcode soup
        let start = Int.random(in: 0..<bytes.count, using: &random)
        let fill: UInt8 = [0x0a, 0x0b, 0x3f, 0x2f, 0x0f, 0x40].randomElement(using: &random)!
        for i in start..<min(bytes.count, start + Int.random(in: 1...80, using: &random)) { bytes[i] = fill }
      default:  // random byte flips anywhere
        for _ in 0..<Int.random(in: 1...32, using: &random) {
          bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        }
      }
      return bytes
    }
  }

  /// Builds the table and uses it; returns whether a table (rather than an error) came out.
  private func exercise(_ bytes: [UInt8], address: UInt64, random: inout SeededGenerator) -> Bool {
    let table: UnwindTable
    do {
      table = try UnwindTable.build(frameSection: bytes, kind: .ehFrame, address: address)
    } catch {
      #expect(error.kind == .corruptData)
      return false
    }
    #expect(zip(table.rows, table.rows.dropFirst()).allSatisfy { $0.address < $1.address })
    #expect(table.stats.fdesUsed + table.stats.skippedTotal == table.stats.fdesRead)
    for _ in 0..<8 { _ = table.lookup(UInt64.random(in: 0...0x30_0000, using: &random)) }
    if let row = table.rows.randomElement(using: &random) {
      let words = (0..<64).map { _ in UInt64.random(in: 0...UInt64.max, using: &random) }
      let base: UInt64 = 0x7ff0_0000
      let result = StackUnwinder(maxDepth: 32).unwind(
        from: .init(rip: row.address, rsp: base, rbp: base + 0x40),
        readStack: { address in
          address >= base && address < base + 0x200 && address % 8 == 0 ? words[Int((address - base) / 8)] : nil
        },
        tableFor: { _ in (table, 0) })
      #expect(result.returnAddresses.count <= 32)
    }
    return true
  }

  @Test func mutatedLibcEhFrameNeverTraps() throws {
    let libc = try #require(LibcLocator.path)
    let elf = try ELFFile.open(path: libc)
    let section = try #require(elf.section(named: ".eh_frame"))
    let whole = try elf.contents(of: section)
    // Mutants of a 6 KiB prefix (cut at a record boundary, re-terminated) keep each parse quick; a few
    // mutants of the whole section cover damage far from the start.
    let records = Self.recordStarts(whole)
    let cut = records.last { $0 <= 6144 } ?? whole.count
    let prefix = Array(whole.prefix(cut)) + [0, 0, 0, 0]
    let prefixRecords = records.filter { $0 < cut }
    #expect(prefixRecords.count > 50)
    var mutator = Mutator(random: SeededGenerator(seed: 0xe4f_7a3e), records: prefixRecords)
    var random = SeededGenerator(seed: 0x5eed)
    var tables = 0
    var errors = 0
    var slowest = Duration.zero
    let clock = ContinuousClock()
    for _ in 0..<4000 {
      let mutant = mutator.mutate(prefix)
      let elapsed = clock.measure {
        if exercise(mutant, address: section.address, random: &random) { tables += 1 } else { errors += 1 }
      }
      slowest = max(slowest, elapsed)
    }
    var wholeMutator = Mutator(random: SeededGenerator(seed: 0x401e), records: records)
    for _ in 0..<12 {
      if exercise(wholeMutator.mutate(whole), address: section.address, random: &random) {
        tables += 1
      } else {
        errors += 1
      }
    }
    // Both outcomes occur, and no single mutant takes long (the interpreter's bounds hold).
    #expect(tables > 100)
    #expect(errors > 100)
    #expect(slowest < .seconds(2))
  }
}
