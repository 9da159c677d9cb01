import ArgumentParser
import PerfEvents
import SondeCore
import SondeText

/// `sonde list`: the events this machine offers, like `perf list`.
struct ListCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list",
    abstract: "List events: software, hardware, hw-cache, tracepoints, PMUs and their format fields.")

  @Argument(help: "A section (hw, sw, cache, tracepoint, pmu) and/or a glob on event names.")
  var selectors: [String] = []

  @Flag(name: [.short, .customLong("json")], help: "JSON output.")
  var json = false

  func run() throws {
    var kinds = Set<EventListing.Item.Kind>()
    var filter: String?
    for selector in selectors {
      switch selector {
      case "hw", "hardware": kinds.insert(.hardware)
      case "sw", "software": kinds.insert(.software)
      case "cache", "hwcache": kinds.insert(.cache)
      case "tracepoint", "tracepoints": kinds.insert(.tracepoint)
      case "pmu": kinds.insert(.pmu)
      default: filter = selector
      }
    }
    if kinds.isEmpty { kinds = Set(EventListing.Item.Kind.allCases) }
    var listing = EventListing.collect(filter: filter, kinds: kinds)
    if filter != nil && !kinds.isEmpty && kinds.count > 1 { listing.pmus = [] }
    print(json ? renderJSON(listing) : renderText(listing), terminator: "")
  }

  private func renderText(_ listing: EventListing) -> String {
    var text = "\nList of pre-defined events (to be used in -e or -M):\n\n"
    for item in listing.items {
      var name = item.name
      if let detail = item.detail, item.kind != .pmu { name += " " + detail }
      var line = "  " + name.padded(to: 49) + " " + "[\(item.kind.rawValue)]"
      if let reason = item.unsupportedReason { line += " <not supported: \(reason)>" }
      text += line + "\n"
    }
    if !listing.pmus.isEmpty {
      text += "\nPMUs and their format fields (use as pmu/field=value,…/):\n\n"
      for pmu in listing.pmus {
        let fields = pmu.formats.keys.sorted().map { key in
          let f = pmu.formats[key]!
          return
            "\(key)=\(f.word):\(f.ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))"
        }
        text += "  \(pmu.name) (type \(pmu.type))" + (fields.isEmpty ? "" : ": " + fields.joined(separator: " ")) + "\n"
      }
    }
    return text
  }

  private func renderJSON(_ listing: EventListing) -> String {
    listing.items.map { item in
      var object = JSONObject()
      object.add("name", item.name)
      object.add("kind", item.kind.rawValue)
      object.add("supported", item.unsupportedReason == nil)
      if let reason = item.unsupportedReason { object.add("reason", reason) }
      if let detail = item.detail { object.add("detail", detail) }
      return object.text() + "\n"
    }.joined()
  }

}
