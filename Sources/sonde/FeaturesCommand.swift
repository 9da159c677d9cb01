import ArgumentParser
import BPF
import Foundation
import SondeBPFPrograms

/// `sonde features`: what this kernel's BPF supports, each with the reason when it does not.
struct FeaturesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "features",
    abstract: "Probe the kernel's BPF features (program, map and attach types, helpers, BTF, ringbuf, batch ops).")

  @Flag(name: .long, help: "Print JSON instead of a table.")
  var json = false

  @Flag(name: .long, help: .hidden)
  var holdUntilSignal = false

  func run() throws {
    try reportingErrors(verb: "features") { try runVerb() }
  }

  private func runVerb() throws {
    if holdUntilSignal { try Self.hold() }
    let results = BPFFeatures.all()
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      let data = try encoder.encode(results)
      print(String(decoding: data, as: UTF8.self))
      return
    }
    print(Self.table(results))
  }

  /// For resource-hygiene tests: loads and attaches a tracepoint program, prints its kernel id, then waits
  /// for a signal. SIGINT/SIGTERM end the process, and the kernel must then release the program.
  static func hold() throws {
    let object = try BPFObject(bytes: BPFProgramBytes.count, name: "count")
    try object.loadOnly(["sonde_tp_getpid"])
    let program = try object.program("sonde_tp_getpid")
    let link = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getpid")
    print("holding program \(program.kernelID ?? 0)")
    fflush(nil)
    while link.isAttached { pause() }
  }

  /// Renders the results as aligned columns: category, feature, status, reason.
  static func table(_ results: [BPFFeatures.Result]) -> String {
    let categoryWidth = max(8, results.map(\.category.rawValue.count).max() ?? 0) + 2
    let featureWidth = max(7, results.map(\.feature.count).max() ?? 0) + 2
    var lines = [
      "CATEGORY".padded(to: categoryWidth) + "FEATURE".padded(to: featureWidth) + "STATUS".padded(to: 13) + "REASON"
    ]
    for result in results {
      let status = result.supported ? "supported" : "unsupported"
      lines.append(
        result.category.rawValue.padded(to: categoryWidth) + result.feature.padded(to: featureWidth)
          + status.padded(to: 13)
          + (result.reason ?? ""))
    }
    let unsupported = results.filter { !$0.supported }.count
    lines.append("\(results.count - unsupported) of \(results.count) features supported")
    return lines.joined(separator: "\n")
  }
}
