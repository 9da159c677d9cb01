import Foundation
import SondeTestSupport
import Testing

@testable import Symbols

/// Extents of symbols without a size (crti's `_init`/`_fini`, assembly labels) and of addresses past a
/// symbol's end: perf and llvm-symbolizer let a zero-sized symbol run to the next symbol (past its section's
/// end: both print `_fini+0x164` for a.out's padding), and name nothing past a sized symbol's end.
@Suite struct ZeroSizedSymbolTests {
  static func symbol(_ name: String, _ address: UInt64, _ size: UInt64, _ kind: ELFSymbol.Kind = .function)
    -> ELFSymbol
  {
    ELFSymbol(
      name: name, address: address, size: size, kind: kind, binding: .global, sectionIndex: 1, isDynamic: false)
  }

  @Test func zeroSizedSymbolsRunToTheNextSymbolAndTheLastOneToThePageAfterItsOwn() {
    let table = SymbolTable(symbols: [
      Self.symbol("sized", 0x1000, 0x10), Self.symbol("_fini", 0x1100, 0), Self.symbol("after", 0x1200, 0x20),
      Self.symbol("label", 0x1300, 0, .none),
    ])
    #expect(table.lookup(0xfff) == nil)
    #expect(table.lookup(0x100f)?.name == "sized")
    #expect(table.lookup(0x1010) == nil)  // past a sized symbol, nothing else: [unknown]
    #expect(table.lookup(0x1100)?.name == "_fini")
    #expect(table.lookup(0x11ff)?.name == "_fini")
    #expect(table.lookup(0x1200)?.name == "after")
    #expect(table.lookup(0x1220) == nil)
    // `label` is last: roundup(0x1300, 4096) + 4096 = 0x3000 (perf's symbols__fixup_end).
    #expect(table.lookup(0x2fff)?.name == "label")
    #expect(table.lookup(0x3000) == nil)
    #expect(table.lookup(UInt64.max) == nil)
    #expect(SymbolTable.lastSymbolEnd(0x2000) == 0x3000)
    #expect(SymbolTable.lastSymbolEnd(UInt64.max - 5) == UInt64.max)
  }

  /// Aliases at one address: `lookup` keeps llvm-symbolizer's choice (the .symtab name with the fewest
  /// underscores), `lookupAsPerf` perf's (`choose_best_symbol`: equally bound, the longer name wins), so
  /// `sonde script` prints libc's `free` as perf does: `cfree@GLIBC_2.2.5`.
  @Test func aliasesResolveAsLLVMSymbolizerOrAsPerfChooses() {
    func sym(_ name: String, _ binding: ELFSymbol.Binding, dynamic: Bool) -> ELFSymbol {
      ELFSymbol(
        name: name, address: 0x98ef0, size: 257, kind: .function, binding: binding, sectionIndex: 16,
        isDynamic: dynamic)
    }
    let table = SymbolTable(symbols: [
      sym("__libc_free", .global, dynamic: false), sym("free", .global, dynamic: false),
      sym("cfree@GLIBC_2.2.5", .global, dynamic: false), sym("__free_weak", .weak, dynamic: false),
    ])
    #expect(table.lookup(0x98f21)?.name == "free")
    #expect(table.lookupAsPerf(0x98f21)?.name == "cfree@GLIBC_2.2.5")
    #expect(table.lookupAsPerf(0x98ef0 + 257) == nil)
  }

  /// nm -n of a fixture: (address, type letter, name, size or nil).
  func listing(_ path: String) throws -> [(address: UInt64, type: Character, name: String, size: UInt64?)] {
    let nm = try #require(TestSupport.tool("nm"), "nm not installed")
    let (_, output) = try Support.run(nm, ["-n", "-S", "--defined-only", path])
    return output.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard let address = UInt64(fields[0], radix: 16) else { return nil }
      if fields.count == 4, let size = UInt64(fields[1], radix: 16), let type = fields[2].first {
        return (address, type, String(fields[3]), size)
      }
      if fields.count == 3, let type = fields[1].first { return (address, type, String(fields[2]), nil) }
      return nil
    }
  }

  /// Real crti `_init`/`_fini` in the fixtures: every address from the symbol to the next symbol of any kind is
  /// named after it by sonde and llvm-symbolizer alike; past the last code symbol's extent, sonde says
  /// [unknown] with the module offset.
  @Test(arguments: ["shared", "swift"])
  func fixtureZeroSizedSymbolsAgreeWithLLVMSymbolizer(_ fixture: String) throws {
    let path = try (fixture == "shared" ? Support.sharedLibraryFixture : Support.swiftFixture).get()
    let llvm = try #require(TestSupport.tool("llvm-symbolizer"), "llvm-symbolizer not installed")
    let symbols = try listing(path)
    let unsized = symbols.enumerated().filter { "tT".contains($0.element.type) && $0.element.size == nil }
    try #require(unsized.contains { $0.element.name == "_fini" }, "no zero-sized _fini in \(path)")
    var addresses: [UInt64] = []
    for (index, symbol) in unsized {
      guard let next = symbols[(index + 1)...].first(where: { $0.address > symbol.address }) else { continue }
      addresses += [symbol.address, symbol.address + 1, (symbol.address + next.address) / 2, next.address - 1]
    }
    try #require(!addresses.isEmpty)
    let hex = addresses.map { "0x" + String($0, radix: 16) }
    let ours = try Support.symbolizeJSON(["--no-demangle", "-e", path] + hex)
    let (_, text) = try Support.run(
      llvm, ["--obj=" + path, "--no-demangle", "--output-style=GNU", "-f"], input: hex.joined(separator: "\n") + "\n")
    let theirs = text.split(separator: "\n").enumerated().filter { $0.offset % 2 == 0 }.map { String($0.element) }
    try #require(ours.count == addresses.count && theirs.count == addresses.count)
    for index in addresses.indices {
      #expect(
        ours[index]["symbol"] as? String == theirs[index], "\(hex[index]): ours \(ours[index]) llvm \(theirs[index])")
    }

    // Past the extent of the last code symbol: [unknown], module offset = address.
    let code = symbols.filter { "tTwWiI".contains($0.type) }
    let last = try #require(code.last)
    let beyond = last.size.map { last.address + $0 + 0x10 } ?? SymbolTable.lastSymbolEnd(last.address)
    let frame = try #require(try Support.symbolizeJSON(["-e", path, "0x" + String(beyond, radix: 16)]).first)
    #expect(frame["status"] as? String == "noSymbol")
    #expect(frame["symbol"] is NSNull)
    #expect(frame["module_offset"] as? String == "0x" + String(beyond, radix: 16))
  }
}
