import Foundation
import SondeTestSupport
import Testing

@testable import Symbols
import SondeSystem

/// Acceptance: 1,000 random addresses inside function symbols of the machine's libc and of a Swift binary
/// built by the test; `sonde symbolize -e` must name the same function as llvm-symbolizer, with nm -S as
/// the ground truth for which symbols cover each address.
@Suite struct AddressAcceptanceTests {
  struct Oracle {
    /// Function symbols (address, size, name) from nm -S of the binary and, when installed, its debug file.
    var functions: [(UInt64, UInt64, String)]

    /// Names of every symbol whose range contains `address`.
    func names(containing address: UInt64) -> Set<String> {
      Set(functions.filter { address >= $0.0 && address - $0.0 < $0.1 }.map(\.2))
    }
  }

  /// The GCC clone suffixes (`foo.cold`, `foo.part.0`, `foo.isra.0`, `foo.constprop.0`) name parts of `foo`.
  static func baseName(_ name: String) -> String {
    guard let dot = name.firstIndex(of: ".") else { return name }
    return String(name[..<dot])
  }

  func randomAddresses(_ oracle: Oracle, count: Int, seed: UInt64) -> [UInt64] {
    var random = SeededGenerator(seed: seed)
    let functions = oracle.functions
    return (0..<count).map { _ in
      let f = functions.randomElement(using: &random)!
      return f.0 + UInt64.random(in: 0..<f.1, using: &random)
    }
  }

  /// llvm-symbolizer's function name and start address for each address. With debug info it reports the
  /// inline chain innermost first; the last entry is the function the code physically belongs to.
  func llvmSymbolize(_ path: String, _ addresses: [UInt64]) throws -> [(name: String, start: UInt64?)] {
    guard let tool = TestSupport.tool("llvm-symbolizer") else {
      throw Support.FixtureError(message: "no llvm-symbolizer")
    }
    let input = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
    let (_, output) = try Support.run(
      tool, ["--obj=" + path, "--no-demangle", "--output-style=JSON"], input: input)
    return output.split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let symbols = object["Symbol"] as? [[String: Any]], let first = symbols.last
      else { return nil }
      let start = (first["StartAddress"] as? String).flatMap { UInt64($0.dropFirst(2), radix: 16) }
      return (first["FunctionName"] as? String ?? "??", start)
    }
  }

  func check(binary: String, oracle: Oracle, seed: UInt64, count: Int = 1000) throws {
    let addresses = randomAddresses(oracle, count: count, seed: seed)
    let frames = try Support.symbolizeJSON(
      ["--no-demangle", "-e", binary] + addresses.map { "0x" + String($0, radix: 16) })
    try #require(frames.count == addresses.count)
    let llvm = try llvmSymbolize(binary, addresses)
    try #require(llvm.count == addresses.count)
    var nmDisagreements: [String] = []
    var llvmDisagreements: [String] = []
    var llvmWithoutName = 0
    for (index, address) in addresses.enumerated() {
      let frame = frames[index]
      let ours = frame["symbol"] as? String ?? "[unknown]"
      let offset = (frame["offset"] as? NSNumber)?.uint64Value ?? 0
      let start = address - offset
      let covering = oracle.names(containing: address)
      if !covering.contains(ours) { nmDisagreements.append("0x\(String(address, radix: 16)): \(ours) ∉ \(covering)") }
      let (llvmName, llvmStart) = llvm[index]
      if llvmName.isEmpty || llvmName == "??" {
        // DWARF without a name (hand-written assembly): nm alone decides.
        llvmWithoutName += 1
        continue
      }
      let sameFunction =
        llvmName == ours || llvmStart == start || Self.baseName(ours) == llvmName
        || oracle.functions.contains { $0.2 == llvmName && $0.0 == start }
      if !sameFunction {
        llvmDisagreements.append(
          "0x\(String(address, radix: 16)): ours \(ours)@\(String(start, radix: 16)) llvm \(llvmName)")
      }
    }
    #expect(nmDisagreements.isEmpty, "\(nmDisagreements.count) vs nm: \(nmDisagreements.prefix(5))")
    #expect(llvmDisagreements.isEmpty, "\(llvmDisagreements.count) vs llvm-symbolizer: \(llvmDisagreements.prefix(5))")
    #expect(llvmWithoutName < addresses.count / 50)
  }

  @Test func libcAddressesNameTheSameFunctionAsTheOracles() throws {
    let libc = try #require(LibcLocator.path)
    var functions = try Support.nmFunctions(libc, dynamic: true)
    // With libc6-dbg installed the debug file adds the static functions (and llvm-symbolizer uses it too).
    let elf = try ELFFile.open(path: libc)
    if let hex = elf.buildIDHex,
      let debug = DebugFileLocator().buildIDPaths(hex).first(where: FileManager.default.fileExists(atPath:))
    {
      functions += try Support.nmFunctions(debug)
    }
    try #require(functions.count > 1000)
    try check(binary: libc, oracle: Oracle(functions: functions), seed: 1)
  }

  @Test func swiftFixtureAddressesNameTheSameFunctionAsTheOracles() throws {
    let fixture = try Support.swiftFixture.get()
    let functions = try Support.nmFunctions(fixture)
    try #require(functions.count > 50)
    try check(binary: fixture, oracle: Oracle(functions: functions), seed: 2)
  }
}
