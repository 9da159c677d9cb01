import ArgumentParser
import BPF
import SondeText

/// `sonde features`: what this kernel's BPF supports, each with the reason when it does not.
struct FeaturesCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "features",
    abstract: "Probe the kernel's BPF features (program, map and attach types, helpers, BTF, ringbuf, batch ops).")

  @Flag(name: .long, help: "Print JSON instead of a table.")
  var json = false

  func run() throws {
    try reportingErrors(verb: "features") { try runVerb() }
  }

  private func runVerb() throws {
    let results = BPFFeatures.all()
    if json {
      let objects = results.map { result in
        var object = JSONObject()
        object.add("category", result.category.rawValue)
        object.add("feature", result.feature)
        object.add("reason", result.reason)
        object.add("supported", result.supported)
        return object.text()
      }
      print(jsonArray(objects, pretty: true))
      return
    }
    print(Self.table(results))
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
