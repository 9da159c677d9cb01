import Foundation
import SondeTestSupport
import Testing

/// `--call-graph dwarf` recordings unwound by Sonde's own call-frame unwinder (issue 15): a C program built
/// without frame pointers that spends its time in a comparator called by libc's qsort, and a Swift -O
/// program, show their whole call chains in `sonde report`, for perf's files and Sonde's, and sample by
/// sample the same callers as `perf script` finds in the same file.
@Suite(.serialized)
struct DwarfReportTests {
  static var workloads: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Workloads")
  }

  /// Builds the qsort workload into `dir`.
  static func buildQsort(_ dir: String) throws -> String {
    let binary = dir + "/QsortCompare"
    let source = workloads.appendingPathComponent("QsortCompare.c").path
    let build = try ToolRunner.run(["cc", "-O2", "-fomit-frame-pointer", "-o", binary, source])
    guard build.status == 0 else { throw TestSupport.Failure("cc: \(build.stderr)") }
    return binary
  }

  /// Builds the Swift workload of known leaf shares with `swiftc -O` (no frame pointers) into `dir`.
  static func buildSwiftShares(_ dir: String) throws -> String {
    let binary = dir + "/SwiftShares"
    let source = workloads.appendingPathComponent("SwiftShares.swift").path
    guard let swiftc = TestSupport.tool("swiftc") else { throw TestSupport.Failure("swiftc is not on PATH") }
    let build = try ToolRunner.run([swiftc, "-O", "-module-name", "SwiftShares", "-o", binary, source])
    guard build.status == 0 else { throw TestSupport.Failure("swiftc: \(build.stderr)") }
    return binary
  }

  /// Records `argv` with DWARF stacks, by perf or by Sonde, into `file`.
  static func record(_ tool: String, _ file: String, _ argv: [String]) throws {
    let recorder = tool == "perf" ? "perf" : ToolRunner.sonde
    let out = try ToolRunner.run(
      [recorder, "record", "-F", "999", "--call-graph", "dwarf", "-o", file, "--"] + argv)
    guard out.status == 0 else { throw TestSupport.Failure("\(tool) record: \(out.stderr)") }
  }

  /// Folded stacks (`frame;frame;…;leaf count`) with their counts.
  static func folded(_ text: String) -> [(frames: [Substring], count: Int)] {
    text.split(separator: "\n").compactMap { line in
      guard let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]) else { return nil }
      return (line[..<space].split(separator: ";"), n)
    }
  }

  /// Samples whose leaf is the qsort workload's comparator, and those of them whose stack reads, root first,
  /// … main;sort_rounds;<libc's qsort>;msort_with_tmp…;compare.
  static func qsortChains(_ foldedText: String) -> (leaf: Int, whole: Int) {
    var leaf = 0
    var whole = 0
    for (frames, count) in folded(foldedText) where frames.last == "compare" {
      leaf += count
      guard let main = frames.firstIndex(of: "main"), frames.indices.contains(main + 2),
        frames[main + 1] == "sort_rounds", frames[main + 2].contains("qsort"),
        frames[(main + 3)...].dropLast().allSatisfy({ $0.hasPrefix("msort_with_tmp") })
      else { continue }
      whole += count
    }
    return (leaf, whole)
  }

  @Test(arguments: ["perf", "sonde"])
  func qsortComparatorSamplesReachMainThroughLibc(recorder: String) throws {
    let dir = try ToolRunner.tempDirectory("dwarf-qsort")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = try Self.buildQsort(dir)
    let file = dir + "/\(recorder).data"
    try Self.record(recorder, file, [binary, "20"])
    let report = try ToolRunner.run([ToolRunner.sonde, "report", "-i", file, "--folded"])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stderr.contains("dwarf unwinding:"), "\(report.stderr)")
    let (leaf, whole) = Self.qsortChains(report.stdout)
    #expect(leaf > 100, "compare has \(leaf) samples:\n\(report.stdout.prefix(3000))")
    #expect(
      Double(whole) >= 0.95 * Double(leaf), "\(whole) of \(leaf):\n\(report.stdout.prefix(3000))\n\(report.stderr)")
  }

  /// One entry per sample from script output (`perf script` or `sonde script`, the same format), keyed by its
  /// thread and time: the module addresses of its frames, leaf first, with repeats in a row folded into one.
  /// perf prints each inlined function as one more line at its frame's address, and Sonde does not expand
  /// inlining, so a run of one address compares equal on both sides (a recursion's depth is not compared).
  static func samples(_ script: String) -> [String: [Substring]] {
    var result: [String: [Substring]] = [:]
    for block in script.components(separatedBy: "\n\n") {
      let lines = block.split(separator: "\n")
      guard let head = lines.first else { continue }
      let fields = head.split(whereSeparator: \.isWhitespace)
      guard fields.count >= 3 else { continue }
      var frames: [Substring] = []
      for line in lines.dropFirst() {
        guard let address = line.split(whereSeparator: \.isWhitespace).first else { continue }
        if frames.last != address { frames.append(address) }
      }
      result["\(fields[1]) \(fields[2])"] = frames
    }
    return result
  }

  @Test func callersAgreeWithPerfScriptSampleBySample() throws {
    let dir = try ToolRunner.tempDirectory("dwarf-agree")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = try Self.buildQsort(dir)
    let file = dir + "/perf.data"
    try Self.record("perf", file, [binary, "20"])
    let theirs = try ToolRunner.run(["perf", "script", "-i", file])
    #expect(theirs.status == 0, "\(theirs.stderr)")
    let ours = try ToolRunner.run([ToolRunner.sonde, "script", "-i", file])
    #expect(ours.status == 0, "\(ours.stderr)")
    let perfSamples = Self.samples(theirs.stdout)
    let sondeSamples = Self.samples(ours.stdout)
    var matched = 0
    var same = 0
    var differing: [String] = []
    for (key, frames) in perfSamples {
      guard let mine = sondeSamples[key] else { continue }
      matched += 1
      if mine == frames {
        same += 1
      } else if differing.count < 5 {
        differing.append("\(key): perf \(frames) sonde \(mine)")
      }
    }
    #expect(matched >= perfSamples.count * 9 / 10 && matched > 100, "matched \(matched) of \(perfSamples.count)")
    #expect(
      Double(same) >= 0.95 * Double(matched), "\(same) of \(matched) agree:\n\(differing.joined(separator: "\n"))")
  }

  @Test func swiftOptimizedLeavesReachMain() throws {
    let dir = try ToolRunner.tempDirectory("dwarf-swift")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = try Self.buildSwiftShares(dir)
    let file = dir + "/sonde.data"
    try Self.record("sonde", file, [binary, "1500"])
    let report = try ToolRunner.run([ToolRunner.sonde, "report", "-i", file, "--folded"])
    #expect(report.status == 0, "\(report.stderr)")
    let leaves = ["Matrix.reduce(rounds:)", "Matrix.transpose(rounds:)", "Checksum.fold(_:seed:)"]
    var leaf = 0
    var whole = 0
    for (frames, count) in Self.folded(report.stdout) {
      guard let last = frames.last, leaves.contains(where: { last == $0 || last.hasSuffix(" " + $0) }) else { continue }
      leaf += count
      if let main = frames.firstIndex(of: "main"), frames.prefix(main).contains(where: { $0.hasPrefix("__libc_start") })
      {
        whole += count
      }
    }
    #expect(leaf > 500, "\(report.stdout.prefix(3000))")
    #expect(Double(whole) >= 0.95 * Double(leaf), "\(whole) of \(leaf):\n\(report.stdout.prefix(3000))")
  }
}
