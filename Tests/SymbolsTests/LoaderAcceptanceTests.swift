import Foundation
import SondeTestSupport
import Testing

@testable import Symbols
import SondeSystem

/// Acceptance for the dynamic loader: ld.so is a stripped shared object (p_vaddr 0, only a small `.dynsym`)
/// whose static functions live in the libc6-dbg debug file found by build-id, and whose entry points
/// (`_start`, `_dl_start_user`) are hand-written assembly labels (STT_NOTYPE, size 0).
@Suite struct LoaderAcceptanceTests {
  /// The program interpreter of the running test process (PT_INTERP), i.e. the machine's ld.so.
  static func interpreter() throws -> String {
    let exe = try ELFFile.open(path: "/proc/self/exe")
    let interp = try #require(exe.programHeaders.first { $0.type == 3 }, "test binary has no PT_INTERP")
    let bytes = try exe.reader.bytes(interp.offset, interp.fileSize)
    return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
  }

  /// ld.so's separate debug file (libc6-dbg, installed by scripts/setup.sh).
  static func debugFile(_ path: String) throws -> String {
    let elf = try ELFFile.open(path: path)
    let hex = try #require(elf.buildIDHex, "\(path) has no build-id")
    return try #require(
      DebugFileLocator().buildIDPaths(hex).first(where: FileManager.default.fileExists(atPath:)),
      "no debug file for \(path) (libc6-dbg)")
  }

  @Test func loaderAddressesNameTheSameFunctionAsTheOracles() throws {
    let loader = try Self.interpreter()
    let debug = try Self.debugFile(loader)
    let functions = try Support.nmFunctions(loader, dynamic: true) + Support.nmFunctions(debug)
    try #require(functions.count > 200)
    try AddressAcceptanceTests().check(
      binary: loader, oracle: AddressAcceptanceTests.Oracle(functions: functions), seed: 3, count: 200)
  }

  /// Every assembly label in ld.so's code (nm type t/T without a size) names its own address and the bytes up
  /// to the next symbol, as llvm-symbolizer says when given the debug file's symbol table.
  @Test func loaderEntryLabelsAreNamed() throws {
    let loader = try Self.interpreter()
    let debug = try Self.debugFile(loader)
    let nm = try #require(TestSupport.tool("nm"), "nm not installed")
    let (_, listing) = try Support.run(nm, ["-n", "--defined-only", debug])
    let labels: [(UInt64, String)] = listing.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard fields.count == 3, fields[1] == "t" || fields[1] == "T", let address = UInt64(fields[0], radix: 16)
      else { return nil }
      return (address, String(fields[2]))
    }
    let sized = Set(try Support.nmFunctions(debug).map(\.0))
    let unsized = labels.filter { !sized.contains($0.0) }
    try #require(unsized.contains { $0.1 == "_start" }, "ld.so's debug file has no _start label")
    let entry = try ELFFile.open(path: loader).header.entry
    let frames = try Support.symbolizeJSON(["-e", loader, "0x" + String(entry, radix: 16)])
    #expect(frames.first?["symbol"] as? String == "_start")
    #expect((frames.first?["offset"] as? NSNumber)?.uint64Value == 0)

    let llvm = try #require(TestSupport.tool("llvm-symbolizer"), "llvm-symbolizer not installed")
    let addresses = unsized.flatMap { [$0.0, $0.0 + 1] }
    let ours = try Support.symbolizeJSON(["-e", loader] + addresses.map { "0x" + String($0, radix: 16) })
    let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
    let (_, theirs) = try Support.run(
      llvm, ["--obj=" + debug, "--no-demangle", "--output-style=GNU", "-f"], input: input)
    let theirNames = theirs.split(separator: "\n").enumerated().filter { $0.offset % 2 == 0 }.map { String($0.element) }
    try #require(ours.count == addresses.count && theirNames.count == addresses.count)
    for (index, address) in addresses.enumerated() where theirNames[index] != "??" {
      #expect(
        ours[index]["symbol"] as? String == theirNames[index],
        "0x\(String(address, radix: 16)): ours \(ours[index]["symbol"] ?? "nil") llvm \(theirNames[index])")
    }
  }
}
