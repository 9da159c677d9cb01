import Foundation

/// Runs the built `sonde`/`sonde-demo` binaries and oracle tools (perf, python3) for end-to-end tests.
enum ToolRunner {
  /// The build's bin directory: where this test bundle lives.
  static var binPath: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
  }

  static var sonde: String { binPath + "/sonde" }
  static var demo: String { binPath + "/sonde-demo" }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `argv` to completion, capturing both streams.
  @discardableResult
  static func run(_ argv: [String], cwd: String? = nil) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
    p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read both pipes concurrently so neither fills up and blocks the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      errData = err.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return Result(
      status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }

  /// A fresh temporary directory.
  static func tempDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "sonde-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// Parses `perf report --stdio` (or `sonde report`) rows: percentage → symbol, first column only.
  static func shares(_ report: String) -> [String: Double] {
    var out: [String: Double] = [:]
    for line in report.split(separator: "\n") where !line.hasPrefix("#") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard let first = fields.first, first.hasSuffix("%"), let pct = Double(first.dropLast()), let symbol = fields.last
      else { continue }
      out[String(symbol), default: 0] += pct
    }
    return out
  }

  /// The top `n` symbols of a report, by share.
  static func top(_ shares: [String: Double], _ n: Int) -> [String] {
    Array(shares.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(n).map(\.key))
  }

  /// The number in "samples N, lost L, total T" from sonde record's status line.
  static func recordCounts(_ stderr: String) -> (samples: Int, lost: Int, total: Int)? {
    guard let line = stderr.split(separator: "\n").first(where: { $0.contains("samples ") && $0.contains("total") })
    else { return nil }
    let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    guard numbers.count >= 3 else { return nil }
    return (numbers[0], numbers[1], numbers[2])
  }
}
