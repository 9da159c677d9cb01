import Foundation
import SondeTestSupport

/// Runs the built `sonde`/`sonde-demo` binaries and oracle tools (perf, python3) for end-to-end tests.
enum ToolRunner {
  static var sonde: String { TestSupport.sonde }
  static var demo: String { TestSupport.demo }

  /// Runs `argv` (a path, or a program found on PATH) to completion, capturing both streams.
  @discardableResult
  static func run(_ argv: [String], cwd: String? = nil) throws -> TestSupport.Output {
    try TestSupport.run(argv[0], Array(argv.dropFirst()), cwd: cwd)
  }

  static func tempDirectory(_ name: String) throws -> String { try TestSupport.temporaryDirectory(name) }

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
