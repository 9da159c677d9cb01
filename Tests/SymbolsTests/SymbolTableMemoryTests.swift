import Foundation
import SondeSystem
import Testing

@testable import Symbols

/// A decoded symbol table keeps its names in the mapped file and releases the pages it read: an unstripped
/// binary's string table (megabytes of mangled Swift names) must not stay resident in a long-lived process
/// such as `sonde agent`, which symbolizes whatever runs on the machine, itself included.
@Suite struct SymbolTableMemoryTests {
  /// How many of the pages under `[pointer, pointer + length)` are mapped in this process
  /// (`/proc/self/pagemap`'s present bit, readable without privileges).
  static func residentPages(_ pointer: UnsafeRawPointer, length: Int) throws -> Int {
    let page = 4096
    let first = Int(bitPattern: pointer) / page
    let last = (Int(bitPattern: pointer) + length - 1) / page
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/pagemap"))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(first * 8))
    let data = try #require(try handle.read(upToCount: (last - first + 1) * 8))
    return data.withUnsafeBytes { bytes in
      (0..<(last - first + 1)).filter { bytes.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) >> 63 != 0 }
        .count
    }
  }

  @Test func decodingTheTestBinarysSymbolsLeavesItsStringTableReleased() throws {
    let elf = try ELFFile.open(path: try #require(Bundle.main.executablePath))
    let strtab = try #require(elf.section(named: ".strtab"), "the test binary is not stripped")
    let base = try #require(elf.store.base)
    let table = elf.symbolTable()
    #expect(table.symbols.count > 1000)
    let pages = (Int(strtab.size) + 4095) / 4096
    let resident = try Self.residentPages(base + Int(strtab.offset), length: Int(strtab.size))
    // A lookup may bring back the page of the name it returns (and the kernel's fault-around, 16 pages).
    #expect(resident <= 32, "\(resident) of the string table's \(pages) pages stayed resident")
    let probe = table.symbols[table.symbols.count / 2]
    #expect(table.lookup(probe.address)?.name == probe.name)
  }
}

extension SymbolTableMemoryTests {
  /// What a symbol costs in a table: 32 bytes, names aside (they stay in the file).
  @Test func aSymbolTakesThirtyTwoBytes() {
    #expect(MemoryLayout<SymbolTable.Record>.stride == 32)
  }

  /// Nested symbols (a sized symbol inside a larger one) are found through the running reach, and a symbol
  /// whose size does not fit 32 bits is cut at 4 GiB rather than wrapping.
  @Test func nestedAndGiantSymbolsAreBoundedByTheirReach() {
    func sym(_ name: String, _ address: UInt64, _ size: UInt64) -> ELFSymbol {
      ELFSymbol(
        name: name, address: address, size: size, kind: .function, binding: .global, sectionIndex: 1,
        isDynamic: false)
    }
    let table = SymbolTable(symbols: [
      sym("outer", 0x1000, 0x1000), sym("inner", 0x1100, 0x10), sym("next", 0x3000, 0x10),
      sym("giant", 0x10_0000_0000, 1 << 40),
    ])
    #expect(table.lookup(0x1105)?.name == "inner")
    #expect(table.lookup(0x1200)?.name == "outer")
    #expect(table.lookup(0x2000) == nil)
    #expect(table.lookup(0x3005)?.name == "next")
    #expect(table.lookup(0x10_0000_0000 + 0xffff_fffe)?.name == "giant")
    #expect(table.lookup(0x10_0000_0000 + (1 << 33)) == nil)
  }
}

extension SymbolTableMemoryTests {
  /// Naming frames reads names out of the mapped string table, and the kernel maps 64 KiB around each
  /// read. After `releaseFilePages` none of those pages stay, and the names already given come from the
  /// image's cache, the same as before.
  @Test func namesReadForFramesAreReleasedAfterTheWindow() throws {
    let path = try #require(Bundle.main.executablePath)
    let symbolizer = Symbolizer()
    let image = try symbolizer.loadFile(path)
    let strtab = try #require(image.elf.section(named: ".strtab"), "the test binary is not stripped")
    let base = try #require(image.elf.store.base)
    let symbols = image.symbols.symbols
    let step = max(1, symbols.count / 400)
    let addresses = stride(from: 0, to: symbols.count, by: step).map { symbols[$0].address }
    let named = try symbolizer.symbolize(file: path, addresses: addresses).map(\.symbol)
    let before = try Self.residentPages(base + Int(strtab.offset), length: Int(strtab.size))
    #expect(before > 100, "naming \(addresses.count) frames mapped only \(before) pages of the string table")
    symbolizer.releaseFilePages()
    let after = try Self.residentPages(base + Int(strtab.offset), length: Int(strtab.size))
    #expect(after == 0, "\(after) of the string table's pages stayed after the release")
    #expect(try symbolizer.symbolize(file: path, addresses: addresses).map(\.symbol) == named)
    #expect(try Self.residentPages(base + Int(strtab.offset), length: Int(strtab.size)) == 0)
  }
}
