import Foundation
import SondeSystem
import Testing

@testable import Symbols

/// Unwind tables built from real binaries agree with `readelf --debug-dump=frames-interp` at every row
/// readelf prints: same CFA rule, same rbp rule, same return-address rule.
@Suite struct UnwindTableTests {
  /// Builds the table for `path`, compares it with readelf, and returns it with the number of rows compared.
  private func checkAgainstReadelf(_ path: String, sourceLine: SourceLocation = #_sourceLocation) throws
    -> (table: UnwindTable, compared: Int)
  {
    let table = try UnwindTable.build(from: ELFFile.open(path: path))
    let oracle = try ReadelfFrames.load(path)
    let (mismatches, compared) = oracle.disagreements(with: table)
    #expect(mismatches.isEmpty, "\(path): \(mismatches.joined(separator: "\n"))", sourceLocation: sourceLine)
    #expect(compared > 0, sourceLocation: sourceLine)
    #expect(table.stats.fdesRead == oracle.entries.count, sourceLocation: sourceLine)
    #expect(table.stats.skippedTotal == 0, "skipped \(table.stats.fdesSkipped)", sourceLocation: sourceLine)
    #expect(zip(table.rows, table.rows.dropFirst()).allSatisfy { $0.address < $1.address && $0.rule != $1.rule })
    return (table, compared)
  }

  @Test func libcTableAgreesWithReadelfAtEveryRow() throws {
    let libc = try #require(LibcLocator.path)
    let (table, compared) = try checkAgainstReadelf(libc)
    #expect(table.stats.fdesUsed > 1000)
    #expect(compared > 10_000)
    // Rows are far fewer than distinct rules would allow: deduplication pays.
    #expect(table.stats.uniqueRules < table.stats.rows / 4)
  }

  @Test func omitFramePointerFixtureAgreesWithReadelf() throws {
    let path = try Support.unwindFixture.get()
    let (table, _) = try checkAgainstReadelf(path)
    let elf = try ELFFile.open(path: path)
    // alloca makes gcc address the frame from rbp even with -fomit-frame-pointer.
    let variable = try #require(try elf.symbols(named: "variable_frame").first)
    let rules = table.rows.filter { $0.address >= variable.address && $0.address < variable.address + variable.size }
    #expect(rules.contains { if case .rbpOffset(16) = $0.rule?.cfa { true } else { false } })
    // A frame larger than 64 KiB still fits a 32-bit offset.
    let big = try #require(try elf.symbols(named: "big_frame").first)
    #expect(
      table.rows.contains {
        guard $0.address >= big.address, $0.address < big.address + big.size,
          case .rspOffset(let offset)? = $0.rule?.cfa
        else { return false }
        return offset > 70000
      })
    // _start marks the end of the stack.
    let start = try #require(try elf.symbols(named: "_start").first)
    #expect(table.lookup(start.address + 1)?.isEndOfStack == true)
  }

  @Test func debugFrameFixtureAgreesWithReadelf() throws {
    let path = try Support.debugFrameFixture.get()
    let elf = try ELFFile.open(path: path)
    #expect(elf.section(named: ".debug_frame") != nil)
    #expect(try ReadelfFrames.load(path).entries.contains { $0.section == ".debug_frame" })
    let (table, _) = try checkAgainstReadelf(path)
    let function = try #require(try elf.symbols(named: "many_saved").first)
    #expect(
      table.lookup(function.address) == UnwindRule(cfa: .rspOffset(8), rbp: .sameValue, returnAddress: .offset(-8)))
  }

  @Test func pltEntriesUseTheRecognisedExpression() throws {
    let libc = try #require(LibcLocator.path)
    let elf = try ELFFile.open(path: libc)
    let table = try UnwindTable.build(from: elf)
    let plt = try #require(elf.section(named: ".plt"))
    // PLT0 pushes the GOT word, then each 16-byte entry jumps, pushes its index (the push ends at 11) and
    // jumps to PLT0.
    let entry = plt.address + 16
    let rule = try #require(table.lookup(entry))
    #expect(rule.cfa == .pltExpression(threshold: 11))
    #expect(rule.returnAddress == .offset(-8))
    #expect(table.lookup(plt.address + plt.size - 1)?.cfa == .pltExpression(threshold: 11))
    #expect(table.lookup(plt.address) == UnwindRule(cfa: .rspOffset(16), rbp: .sameValue, returnAddress: .offset(-8)))
  }

  @Test func otherCFAExpressionsAreUnsupportedNotGuessed() throws {
    let libc = try #require(LibcLocator.path)
    let elf = try ELFFile.open(path: libc)
    let table = try UnwindTable.build(from: elf)
    let plt = try #require(elf.section(named: ".plt"))
    // The signal trampoline (__restore_rt, from a "zRS" CIE) finds everything through DW_OP_deref
    // expressions over the signal frame: outside the model, so an unwind must stop there.
    let expressions = try ReadelfFrames.load(libc).entries.flatMap(\.rows).filter {
      $0.cfa == "exp" && !(plt.address..<plt.address + plt.size).contains($0.location)
    }
    #expect(!expressions.isEmpty)
    for row in expressions {
      #expect(
        table.lookup(row.location) == UnwindRule(cfa: .unsupported, rbp: .unsupported, returnAddress: .unsupported))
    }
    #expect(table.stats.unsupportedRows >= expressions.count)
  }

  @Test func refusesNonX8664Images() throws {
    var builder = ELFBuilder()
    builder.machine = 183
    let elf = try ELFFile(bytes: builder.build(), path: "aarch64")
    #expect(throws: SondeError.self) { try UnwindTable.build(from: elf) }
    builder.machine = 62
    let empty = try UnwindTable.build(from: ELFFile(bytes: builder.build(), path: "x86-64 without CFI"))
    #expect(empty.isEmpty)
    #expect(empty.lookup(0x40_0400) == nil)
  }
}
