import PerfEvents
import SondeSystem

/// What `sonde list` shows: every event this machine offers, by kind, with availability.
public struct EventListing: Sendable {
  /// One listed event.
  public struct Item: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
      case software = "Software event"
      case hardware = "Hardware event"
      case cache = "Hardware cache event"
      case tracepoint = "Tracepoint event"
      case pmu = "Kernel PMU event"
    }
    public var name: String
    public var kind: Kind
    /// Why it cannot be used here, if it cannot.
    public var unsupportedReason: String?
    /// Extra detail (aliases, PMU format fields).
    public var detail: String?
  }

  public var items: [Item]
  /// PMUs with their format fields (`name: field=config:0-7, …`).
  public var pmus: [PMU]

  /// Collects the listing; `filter` is a glob (or substring) on names, `kinds` restricts the sections.
  public static func collect(filter: String? = nil, kinds: Set<Item.Kind> = Set(Item.Kind.allCases)) -> EventListing {
    let noPMU = HardwarePMU.isPresent ? nil : "no hardware PMU on this machine"
    var items: [Item] = []
    if kinds.contains(.hardware) {
      items += EventCatalog.hardware.map {
        Item(name: $0.name, kind: .hardware, unsupportedReason: noPMU, detail: aliasText($0.aliases))
      }
    }
    if kinds.contains(.software) {
      items += EventCatalog.software.map {
        Item(name: $0.name, kind: .software, unsupportedReason: nil, detail: aliasText($0.aliases))
      }
    }
    if kinds.contains(.cache) {
      items += EventCatalog.cacheEventNames.map { Item(name: $0, kind: .cache, unsupportedReason: noPMU) }
    }
    let pmus = PMU.all()
    if kinds.contains(.pmu) {
      for pmu in pmus where !["software", "tracepoint", "breakpoint", "kprobe", "uprobe"].contains(pmu.name) {
        items += pmu.events.keys.sorted().map { Item(name: "\(pmu.name)/\($0)/", kind: .pmu, detail: pmu.events[$0]) }
      }
    }
    if kinds.contains(.tracepoint) {
      items += TraceFS.tracepoints().map { Item(name: $0, kind: .tracepoint) }
    }
    if let filter {
      let pattern = isGlob(filter) ? filter : "*\(filter)*"
      items = items.filter { globMatches(pattern, $0.name) }
    }
    return EventListing(items: items, pmus: kinds.contains(.pmu) ? pmus : [])
  }

  private static func aliasText(_ aliases: [String]) -> String? {
    aliases.isEmpty ? nil : "OR " + aliases.joined(separator: " OR ")
  }
}
