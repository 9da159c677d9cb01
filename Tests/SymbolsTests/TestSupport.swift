import Foundation
import SondeTestSupport
import Testing

@testable import Symbols
import SondeSystem

/// Helpers shared by the Symbols specifications: running oracle tools, locating the built CLI, and
/// building (once per source hash) the fixture programs the tests symbolize.
enum Support {
  /// Runs a program and returns its exit status and standard output.
  static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (Int32, String) {
    let output = try TestSupport.run(executable, arguments, input: input)
    return (output.status, output.stdout)
  }

  /// The swiftc that built the tests (next to the running toolchain), or the one on PATH.
  static let swiftcPath: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/opt/swift/usr/bin"]
    for directory in directories {
      let candidate = directory + "/swiftc"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }()

  /// Runs `sonde symbolize … --json` and decodes one object per line.
  static func symbolizeJSON(_ arguments: [String]) throws -> [[String: Any]] {
    let (status, output) = try run(TestSupport.sonde, ["symbolize", "--json"] + arguments)
    #expect(status == 0, "sonde symbolize \(arguments.prefix(3)) exited \(status)")
    return output.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
  }

  /// FNV-1a of a string, for cache directory names.
  static func hash(_ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      h ^= UInt64(byte)
      h = h &* 0x100_0000_01b3
    }
    return String(h, radix: 16)
  }

  /// A directory that lives for the whole test run.
  static func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "sonde-symbols-tests/" + name
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// Builds `output` from `source` with `command` unless a build for the same source hash exists.
  /// Builds into a temporary name and renames, so concurrent test processes never see half a file.
  static func buildOnce(
    name: String, source: String, sourceExtension: String, flags: [String],
    build: (String, String) throws -> Int32
  ) throws -> String {
    let directory = temporaryDirectory("fixture-" + hash(source + name + flags.joined(separator: " ")))
    let output = directory + "/" + name
    if FileManager.default.fileExists(atPath: output) { return output }
    let sourcePath = directory + "/\(name)-\(getpid()).\(sourceExtension)"
    try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
    let partial = output + ".partial-\(getpid())"
    let status = try build(sourcePath, partial)
    guard status == 0 else { throw FixtureError(message: "building \(name) failed with status \(status)") }
    _ = rename(partial, output)
    return output
  }

  struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
  }

  /// The Swift fixture program, built once per source hash (see `FixtureSources.swiftProgram`).
  static let swiftFixture: Result<String, Error> = Result {
    guard let swiftc = swiftcPath else { throw FixtureError(message: "swiftc not found") }
    let flags = ["-Onone", "-module-name", "Fixture"]
    return try buildOnce(
      name: "sonde-symbols-fixture", source: FixtureSources.swiftProgram, sourceExtension: "swift", flags: flags
    ) { try run(swiftc, flags + [$0, "-o", $1]).0 }
  }

  /// A small C shared library that the fixture program dlopen()s.
  static let sharedLibraryFixture: Result<String, Error> = Result {
    guard let clang = TestSupport.tool("clang") else { throw FixtureError(message: "clang not found") }
    let flags = ["-shared", "-fPIC", "-O1", "-Wl,--build-id"]
    return try buildOnce(
      name: "libsondefixture.so", source: FixtureSources.cLibrary, sourceExtension: "c", flags: flags
    ) {
      try run(clang, flags + [$0, "-o", $1]).0
    }
  }

  /// `nm -S --defined-only` of a file (dynamic table with `dynamic`): (address, size, name) of functions.
  static func nmFunctions(_ path: String, dynamic: Bool = false) throws -> [(UInt64, UInt64, String)] {
    guard let nm = TestSupport.tool("nm") else { throw FixtureError(message: "nm not installed") }
    let (_, output) = try run(nm, (dynamic ? ["-D"] : []) + ["-S", "--defined-only", path])
    var result: [(UInt64, UInt64, String)] = []
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: " ", maxSplits: 3)
      guard fields.count == 4, "tTwWiI".contains(fields[2]), let address = UInt64(fields[0], radix: 16),
        let size = UInt64(fields[1], radix: 16), size > 0
      else { continue }
      result.append((address, size, String(fields[3])))
    }
    return result
  }
}
