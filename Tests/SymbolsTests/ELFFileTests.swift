import Foundation
import SondeSystem
import SondeTestSupport
import Testing

@testable import Symbols

@Suite struct ELFFileTests {
  static let layouts: [(Bool, Bool)] = [(true, false), (true, true), (false, false), (false, true)]

  private func sample(is64: Bool, bigEndian: Bool) -> ELFBuilder {
    var b = ELFBuilder()
    b.is64 = is64
    b.bigEndian = bigEndian
    b.machine = bigEndian ? (is64 ? 43 : 8) : (is64 ? 62 : 3)
    b.symbols = [
      .init(name: "alpha", address: 0x40_0400, size: 0x40),
      .init(name: "beta", address: 0x40_0440, size: 0x100),
      .init(name: "beta_inner", address: 0x40_0480, size: 0x10),
      .init(name: "gamma", address: 0x40_0600, size: 0),
      .init(name: "data_object", address: 0x40_0700, size: 8, isFunction: false),
    ]
    b.debugLink = ("sample.debug", 0x1234_5678)
    return b
  }

  @Test(arguments: layouts)
  func parsesHeadersSymbolsBuildIDAndDebugLinkInEveryClassAndByteOrder(is64: Bool, bigEndian: Bool) throws {
    let elf = try ELFFile(bytes: sample(is64: is64, bigEndian: bigEndian).build(), path: "synthetic")
    #expect(elf.header.is64Bit == is64)
    #expect(elf.header.isBigEndian == bigEndian)
    #expect(elf.header.type == 3)
    #expect(elf.loadSegments.count == 1)
    #expect(elf.buildIDHex == "deadbeef0102030405060708090a0b0c0d0e0f10")
    #expect(elf.debugLink == ELFFile.DebugLink(fileName: "sample.debug", crc: 0x1234_5678))
    #expect(elf.section(named: ".text")?.offset == 0x400)
    #expect(elf.hasSymtab)
    #expect(elf.symbol(containing: 0x40_0400)?.name == "alpha")
    #expect(elf.symbol(containing: 0x40_043f)?.name == "alpha")
    #expect(elf.symbol(containing: 0x40_0440)?.name == "beta")
    // Nested symbol wins inside its range; the enclosing one covers the rest.
    #expect(elf.symbol(containing: 0x40_0485)?.name == "beta_inner")
    #expect(elf.symbol(containing: 0x40_04a0)?.name == "beta")
    // Zero-size symbols cover up to the next one (assembly labels).
    #expect(elf.symbol(containing: 0x40_0610)?.name == "gamma")
    // Objects are not functions; before the first symbol there is nothing.
    #expect(elf.symbol(containing: 0x40_0100) == nil)
    let all = try elf.allSymbols()
    #expect(all.contains { $0.name == "data_object" && $0.kind == .object && $0.size == 8 })
  }

  @Test func mapsFileOffsetsAndVirtualAddressesThroughPTLoad() throws {
    let elf = try ELFFile(bytes: sample(is64: true, bigEndian: false).build(), path: "synthetic")
    #expect(elf.virtualAddress(forFileOffset: 0x410) == 0x40_0410)
    #expect(elf.fileOffset(forVirtualAddress: 0x40_0410) == 0x410)
    #expect(elf.fileOffset(forVirtualAddress: 0x10) == nil)
    #expect(elf.firstLoadAddress == 0x40_0000)
  }

  @Test func realSharedObjectsAgreeWithTheirProgramHeaders() throws {
    let libc = try #require(LibcLocator.path)
    let elf = try ELFFile.open(path: libc)
    #expect(elf.header.is64Bit)
    #expect(!elf.loadSegments.isEmpty)
    #expect(elf.buildID?.count == 20)
    for segment in elf.loadSegments where segment.fileSize > 0 {
      #expect(elf.virtualAddress(forFileOffset: segment.offset) == segment.virtualAddress)
      #expect(
        elf.fileOffset(forVirtualAddress: segment.virtualAddress + segment.fileSize - 1)
          == segment.offset + segment.fileSize - 1)
    }
  }

  @Test func rejectsNonELFInputWithAnExplainedError() {
    #expect(throws: SondeError.self) { try ELFFile(bytes: Array("#!/bin/sh\necho hi\n".utf8), path: "script") }
    #expect(throws: SondeError.self) { try ELFFile(bytes: [], path: "empty") }
    #expect(throws: SondeError.self) { try ELFFile.open(path: "/nonexistent/file") }
    #expect(throws: SondeError.self) { try ELFFile.open(path: "/proc") }
  }

  @Test func findsSeparateDebugFilesByBuildIDAndDebugLink() throws {
    let root = Support.temporaryDirectory("debug-\(getpid())")
    defer { try? FileManager.default.removeItem(atPath: root) }
    var stripped = sample(is64: true, bigEndian: false)
    stripped.includeSymtab = false
    stripped.buildID = [0xab, 0xcd, 0xef, 0x01, 0x02]
    var debug = sample(is64: true, bigEndian: false)
    debug.buildID = stripped.buildID
    debug.debugLink = nil
    // By build-id under <root>/.build-id/ab/cdef0102.debug.
    try FileManager.default.createDirectory(atPath: root + "/.build-id/ab", withIntermediateDirectories: true)
    try Data(debug.build()).write(to: URL(fileURLWithPath: root + "/.build-id/ab/cdef0102.debug"))
    let binaryPath = root + "/bin/program"
    try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
    try Data(stripped.build()).write(to: URL(fileURLWithPath: binaryPath))
    var options = Symbolizer.Options()
    options.debugRoots = [root]
    let frames = try Symbolizer(options: options).symbolize(file: binaryPath, addresses: [0x40_0450])
    #expect(frames.first?.name == "beta")

    // By debuglink next to the binary, verified by CRC32.
    var debugOnly = sample(is64: true, bigEndian: false)
    debugOnly.buildID = nil
    debugOnly.debugLink = nil
    let debugBytes = debugOnly.build()
    let crc = debugBytes.withUnsafeBytes { crc32($0) }
    var linked = sample(is64: true, bigEndian: false)
    linked.includeSymtab = false
    linked.buildID = nil
    linked.debugLink = ("linked.debug", crc)
    try FileManager.default.createDirectory(atPath: root + "/lib/.debug", withIntermediateDirectories: true)
    try Data(linked.build()).write(to: URL(fileURLWithPath: root + "/lib/linked"))
    try Data(debugBytes).write(to: URL(fileURLWithPath: root + "/lib/.debug/linked.debug"))
    let linkedFrames = try Symbolizer(options: options).symbolize(file: root + "/lib/linked", addresses: [0x40_0405])
    #expect(linkedFrames.first?.name == "alpha")

    // A debuglink whose CRC does not match is ignored.
    linked.debugLink = ("linked.debug", crc ^ 1)
    try Data(linked.build()).write(to: URL(fileURLWithPath: root + "/lib/linked"))
    let rejected = try Symbolizer(options: options).symbolize(file: root + "/lib/linked", addresses: [0x40_0405])
    #expect(rejected.first?.status == .noSymbol)
  }

  @Test func crc32MatchesTheStandardCheckValue() {
    #expect(Array("123456789".utf8).withUnsafeBytes { crc32($0) } == 0xCBF4_3926)
  }
}

enum LibcLocator {
  /// The machine's libc.
  static let path: String? = [
    "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6",
  ]
  .first(where: FileManager.default.fileExists(atPath:))
}

extension ELFFileTests {
  /// PLT stubs are named as objdump labels them (`getenv@plt` at each stub's address), read from the
  /// relocations' own symbol entries. Debian's `ls` has a classic `.plt`; a binary with `.plt.sec` (IBT)
  /// is checked the same way when there is one.
  @Test(arguments: ["/usr/bin/ls", "/usr/bin/bash"])
  func pltStubsAreNamedAsObjdumpLabelsThem(binary: String) throws {
    let objdump = try TestSupport.run("objdump", ["-d", "-j", ".plt.sec", "-j", ".plt", binary])
    var expected: [UInt64: String] = [:]
    for line in objdump.stdout.split(separator: "\n") where line.hasSuffix("@plt>:") {
      let parts = line.split(separator: " ")
      guard let address = UInt64(parts[0], radix: 16) else { continue }
      expected[address] = String(parts[1].dropFirst().dropLast(2))
    }
    try #require(expected.count > 20, "objdump labelled \(expected.count) stubs in \(binary)")
    let stubs = try ELFFile.open(path: binary).symbolTable().pltStubs
    let named = Dictionary(stubs.map { ($0.address, $0.name) }, uniquingKeysWith: { a, _ in a })
    for (address, name) in expected {
      #expect(named[address] == name, "\(binary) stub at \(String(address, radix: 16))")
    }
  }
}
