import Foundation
import SondeSystem
import SondeTestSupport
import Testing

@testable import Symbols

/// Corrupt inputs must give errors, never crashes: a mutator derives a corpus from valid images (generated
/// each run from a fixed seed, not committed) and every mutant goes through the whole API.
@Suite struct CorruptELFTests {
  /// Mutations aimed at the fields a reader trusts: sizes, offsets, counts, plus blind byte damage.
  struct Mutator {
    var random: SeededGenerator

    mutating func mutate(_ original: [UInt8]) -> [UInt8] {
      var bytes = original
      let is64 = bytes.count > 4 && bytes[4] == 2
      let shoffField = is64 ? 40 : 32
      let phoffField = is64 ? 32 : 28
      func put(_ offset: Int, _ value: UInt64, width: Int) {
        guard offset >= 0, offset + width <= bytes.count else { return }
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
      }
      let hugeValues: [UInt64] = [
        UInt64.max, UInt64.max - 7, 0x7fff_ffff_ffff_ffff, UInt64(bytes.count), UInt64(bytes.count) - 1, 0xffff_ffff, 0,
      ]
      let choice = Int.random(in: 0..<9, using: &random)
      switch choice {
      case 0:  // truncate
        bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
      case 1:  // section headers past EOF
        put(shoffField, hugeValues.randomElement(using: &random)!, width: is64 ? 8 : 4)
      case 2:  // program headers past EOF
        put(phoffField, hugeValues.randomElement(using: &random)!, width: is64 ? 8 : 4)
      case 3:  // huge counts and odd entry sizes
        put(is64 ? 56 : 44, UInt64.random(in: 0...0xffff, using: &random), width: 2)
        put(is64 ? 60 : 48, UInt64.random(in: 0...0xffff, using: &random), width: 2)
        put(is64 ? 58 : 46, UInt64.random(in: 0...0xffff, using: &random), width: 2)
      case 4:  // section-name table index out of range
        put(is64 ? 62 : 50, UInt64.random(in: 0...0xffff, using: &random), width: 2)
      case 5, 6:  // damage a section header's offset/size/link
        let shoff = Int(clamping: readField(bytes, shoffField, is64 ? 8 : 4) % UInt64(bytes.count + 1))
        let count = Int(readField(bytes, is64 ? 60 : 48, 2))
        guard count > 0 else { break }
        let entry = shoff + Int.random(in: 0..<count, using: &random) * (is64 ? 64 : 40)
        let field = [is64 ? 24 : 16, is64 ? 32 : 20, is64 ? 40 : 24, is64 ? 56 : 36].randomElement(using: &random)!
        put(
          entry + field, hugeValues.randomElement(using: &random)!,
          width: field == (is64 ? 40 : 24) ? 4 : (is64 ? 8 : 4))
      case 7:  // damage a program header
        let phoff = Int(clamping: readField(bytes, phoffField, is64 ? 8 : 4) % UInt64(bytes.count + 1))
        put(
          phoff + Int.random(in: 0..<(is64 ? 56 : 32), using: &random),
          UInt64.random(in: 0...UInt64.max, using: &random), width: 4)
      default:  // random byte flips
        for _ in 0..<Int.random(in: 1...64, using: &random) where !bytes.isEmpty {
          bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        }
      }
      return bytes
    }

    private func readField(_ bytes: [UInt8], _ offset: Int, _ width: Int) -> UInt64 {
      guard offset + width <= bytes.count else { return 0 }
      var value: UInt64 = 0
      for i in 0..<width { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
      return value
    }
  }

  /// Exercises everything a symbolizer would do with an image; any trap fails the whole test run.
  private func exercise(_ elf: ELFFile) {
    _ = elf.buildIDHex
    _ = elf.debugLink
    _ = try? elf.allSymbols()
    let table = elf.symbolTable()
    for address in stride(from: UInt64(0), to: 0x2000, by: 0x40) {
      _ = table.lookup(address)
      _ = elf.virtualAddress(forFileOffset: address)
      _ = elf.fileOffset(forVirtualAddress: address)
    }
    for section in elf.sections.prefix(64) { _ = try? elf.contents(of: section) }
  }

  @Test func mutatedImagesThrowOrParseButNeverCrash() throws {
    var seeds: [[UInt8]] = ELFFileTests.layouts.map { is64, bigEndian in
      var b = ELFBuilder()
      b.is64 = is64
      b.bigEndian = bigEndian
      b.symbols = [.init(name: "f", address: 0x40_0400, size: 16), .init(name: "g", address: 0x40_0410, size: 16)]
      b.debugLink = ("x.debug", 7)
      return b.build()
    }
    if let lib = try? Support.sharedLibraryFixture.get(), let bytes = FileManager.default.contents(atPath: lib) {
      seeds.append([UInt8](bytes))
    }
    var mutator = Mutator(random: SeededGenerator(seed: 0x50_4e44_45))
    var parsed = 0
    var rejected = 0
    for round in 0..<3000 {
      var bytes = seeds[round % seeds.count]
      for _ in 0..<Int.random(in: 1...3, using: &mutator.random) { bytes = mutator.mutate(bytes) }
      do {
        exercise(try ELFFile(bytes: bytes, path: "mutant-\(round)"))
        parsed += 1
      } catch {
        #expect(error.kind == .corruptData || error.kind == .invalidInput)
        rejected += 1
      }
    }
    // Both outcomes must occur, or the mutator is not reaching the reader.
    #expect(parsed > 100)
    #expect(rejected > 100)
  }

  @Test func mutatedFilesOnDiskGoThroughTheMappedPathAndTheCLI() throws {
    let directory = Support.temporaryDirectory("corpus-\(getpid())")
    var b = ELFBuilder()
    b.symbols = [.init(name: "f", address: 0x40_0400, size: 16)]
    let seed = b.build()
    var mutator = Mutator(random: SeededGenerator(seed: 99))
    var paths: [String] = []
    for index in 0..<200 {
      let path = directory + "/mutant-\(index)"
      try Data(mutator.mutate(seed)).write(to: URL(fileURLWithPath: path))
      paths.append(path)
      if let elf = try? ELFFile.open(path: path) { exercise(elf) }
    }
    // The CLI reports corrupt files as errors (exit status 64 or 1), not crashes (signals).
    for path in paths.prefix(40) {
      let (status, _) = try Support.run(TestSupport.sonde, ["symbolize", "-e", path, "0x400400", "0x400408"])
      #expect(status == 0 || status == 1 || status == 64, "\(path) exited \(status)")
    }
    try? FileManager.default.removeItem(atPath: directory)
  }

  @Test func specificCorruptionsAreReportedAsCorruptData() throws {
    var b = ELFBuilder()
    b.symbols = [.init(name: "f", address: 0x40_0400, size: 16)]
    var bytes = b.build()
    // e_shoff past EOF.
    var shPast = bytes
    withUnsafeBytes(of: UInt64(bytes.count + 100).littleEndian) { shPast.replaceSubrange(40..<48, with: $0) }
    #expect(throws: SondeError.self) { try ELFFile(bytes: shPast, path: "sh-past-eof") }
    // Huge program header count.
    var phHuge = bytes
    phHuge[56] = 0xfe  // 0xfffe entries (0xffff would mean PN_XNUM)
    phHuge[57] = 0xff
    #expect(throws: SondeError.self) { try ELFFile(bytes: phHuge, path: "ph-huge") }
    // e_shoff at the top of the address space, with PN_XNUM (0xffff program headers) and with e_shnum 0
    // (extended numbering): both read section 0 at e_shoff + k, which must not overflow.
    for (phnum, shnum) in [(UInt16(0xffff), UInt16(1)), (UInt16(1), UInt16(0))] {
      var top = bytes
      withUnsafeBytes(of: UInt64.max.littleEndian) { top.replaceSubrange(40..<48, with: $0) }
      withUnsafeBytes(of: phnum.littleEndian) { top.replaceSubrange(56..<58, with: $0) }
      withUnsafeBytes(of: shnum.littleEndian) { top.replaceSubrange(60..<62, with: $0) }
      #expect(throws: SondeError.self) { try ELFFile(bytes: top, path: "shoff-max") }
    }
    // Truncated in the middle of the header.
    #expect(throws: SondeError.self) { try ELFFile(bytes: Array(bytes.prefix(40)), path: "truncated") }
    // Unknown class.
    bytes[4] = 7
    #expect(throws: SondeError.self) { try ELFFile(bytes: bytes, path: "bad-class") }
  }
}
