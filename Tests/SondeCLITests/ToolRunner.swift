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

  /// Reads a flame graph SVG with Python's XML parser (so it must be well-formed) and checks every frame's
  /// width against its count's share of the plot: frames drawn, frames whose width disagrees, the total
  /// count, and the frame names.
  static func checkFlameGraph(_ svg: String) throws -> (frames: Int, misdrawn: Int, total: Int, names: Set<String>) {
    let check = try run([
      "python3", "-c",
      """
      import sys, xml.etree.ElementTree as ET
      root = ET.parse(sys.argv[1]).getroot()
      ns = {'s': 'http://www.w3.org/2000/svg'}
      total = float(root.get('data-total')); width = float(root.get('width'))
      frames = root.findall('.//s:g[@class="f"]', ns)
      bad = 0
      for g in frames:
          w = float(g.find('s:rect', ns).get('width'))
          if abs(w - float(g.get('data-v')) / total * (width - 20)) > 0.02: bad += 1
      print(len(frames)); print(bad); print(int(total))
      for g in frames: print(g.get('data-n'))
      """, svg,
    ])
    guard check.status == 0 else { throw TestSupport.Failure("flame graph check failed: \(check.stderr)") }
    let lines = check.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard lines.count >= 3, let frames = Int(lines[0]), let bad = Int(lines[1]), let total = Int(lines[2]) else {
      throw TestSupport.Failure("flame graph check printed: \(check.stdout.prefix(500))")
    }
    return (frames, bad, total, Set(lines.dropFirst(3).filter { !$0.isEmpty }))
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
