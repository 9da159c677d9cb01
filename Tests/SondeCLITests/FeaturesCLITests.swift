import Foundation
import Testing

/// End-to-end: the built `sonde features` binary.
@Suite struct FeaturesCLITests {
  /// The directory of the built products (the test bundle lives beside them).
  static var productsDirectory: URL {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.pathComponents.count > 1, !url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
    return url.deletingLastPathComponent()
  }

  static func runSonde(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent("sonde")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test func featuresJSONReportsWhatThisKernelSupportsWithReasons() throws {
    let (status, output) = try Self.runSonde(["features", "--json"])
    #expect(status == 0)
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]])
    var supported: [String: Bool] = [:]
    var reasons: [String: String] = [:]
    for row in rows {
      let key = "\(row["category"] as? String ?? "")/\(row["feature"] as? String ?? "")"
      supported[key] = row["supported"] as? Bool
      reasons[key] = row["reason"] as? String
    }
    for key in [
      "attach/tracepoint", "attach/raw_tp", "attach/tp_btf", "attach/uprobe", "attach/perf_event",
      "map type/ringbuf", "kernel/batch_ops",
    ] {
      #expect(supported[key] == true, "\(key)")
    }
    // Whatever this kernel lacks comes with the reason.
    for key in ["attach/kprobe", "attach/fentry", "attach/fexit"] where supported[key] == false {
      #expect(reasons[key]?.hasPrefix("unsupported on this kernel: ") == true, "\(key)")
    }
  }

  @Test func featuresTableHasOneRowPerProbeAndASummary() throws {
    let (status, output) = try Self.runSonde(["features"])
    #expect(status == 0)
    let lines = output.split(separator: "\n")
    #expect(lines.first?.hasPrefix("CATEGORY") == true)
    #expect(lines.last?.hasSuffix("features supported") == true)
    #expect(lines.contains { $0.hasPrefix("attach") && $0.contains("tp_btf") && $0.contains(" supported") })
  }
}
