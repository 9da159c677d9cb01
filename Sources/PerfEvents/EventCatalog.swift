import CSonde

/// The symbolic events the kernel defines generically (hardware, software, hardware-cache), with perf's names.
public enum EventCatalog {
  /// A named generic event.
  public struct Entry: Sendable {
    public let name: String
    public let aliases: [String]
    public let type: UInt32
    public let config: UInt64
  }

  /// PERF_TYPE_HARDWARE events, in perf's order.
  public static let hardware: [Entry] = [
    hw("cpu-cycles", ["cycles"], PERF_COUNT_HW_CPU_CYCLES),
    hw("instructions", [], PERF_COUNT_HW_INSTRUCTIONS),
    hw("cache-references", [], PERF_COUNT_HW_CACHE_REFERENCES),
    hw("cache-misses", [], PERF_COUNT_HW_CACHE_MISSES),
    hw("branch-instructions", ["branches"], PERF_COUNT_HW_BRANCH_INSTRUCTIONS),
    hw("branch-misses", [], PERF_COUNT_HW_BRANCH_MISSES),
    hw("bus-cycles", [], PERF_COUNT_HW_BUS_CYCLES),
    hw("stalled-cycles-frontend", ["idle-cycles-frontend"], PERF_COUNT_HW_STALLED_CYCLES_FRONTEND),
    hw("stalled-cycles-backend", ["idle-cycles-backend"], PERF_COUNT_HW_STALLED_CYCLES_BACKEND),
    hw("ref-cycles", [], PERF_COUNT_HW_REF_CPU_CYCLES),
  ]

  /// PERF_TYPE_SOFTWARE events, in perf's order.
  public static let software: [Entry] = [
    sw("cpu-clock", [], PERF_COUNT_SW_CPU_CLOCK),
    sw("task-clock", [], PERF_COUNT_SW_TASK_CLOCK),
    sw("page-faults", ["faults"], PERF_COUNT_SW_PAGE_FAULTS),
    sw("context-switches", ["cs"], PERF_COUNT_SW_CONTEXT_SWITCHES),
    sw("cpu-migrations", ["migrations"], PERF_COUNT_SW_CPU_MIGRATIONS),
    sw("minor-faults", [], PERF_COUNT_SW_PAGE_FAULTS_MIN),
    sw("major-faults", [], PERF_COUNT_SW_PAGE_FAULTS_MAJ),
    sw("alignment-faults", [], PERF_COUNT_SW_ALIGNMENT_FAULTS),
    sw("emulation-faults", [], PERF_COUNT_SW_EMULATION_FAULTS),
    sw("dummy", [], PERF_COUNT_SW_DUMMY),
    sw("bpf-output", [], PERF_COUNT_SW_BPF_OUTPUT),
    sw("cgroup-switches", [], PERF_COUNT_SW_CGROUP_SWITCHES),
  ]

  /// Hardware-cache ids with their perf names (index = PERF_COUNT_HW_CACHE_*).
  public static let caches = ["L1-dcache", "L1-icache", "LLC", "dTLB", "iTLB", "branch", "node"]
  /// Cache operations (index = PERF_COUNT_HW_CACHE_OP_*), singular and plural spellings.
  public static let cacheOperations = [("load", "loads"), ("store", "stores"), ("prefetch", "prefetches")]
  /// Cache results (index = PERF_COUNT_HW_CACHE_RESULT_*).
  public static let cacheResults = [("access", "accesses"), ("miss", "misses")]

  /// Every hardware-cache event name perf lists (`L1-dcache-loads`, `L1-dcache-load-misses`, …).
  public static var cacheEventNames: [String] {
    caches.flatMap { cache in
      cacheOperations.flatMap { op in ["\(cache)-\(op.1)", "\(cache)-\(op.0)-misses"] }
    }
  }

  /// Looks up a hardware or software event by name or alias.
  /// perf's name for an event given by type and config (`cpu-clock`, `cycles`), or `event-TYPE:CONFIG`: how a
  /// file's events are named when it carries no event descriptions.
  public static func name(type: UInt32, config: UInt64) -> String {
    if type == PERF_TYPE_HARDWARE.rawValue && config == UInt64(PERF_COUNT_HW_CPU_CYCLES.rawValue) { return "cycles" }
    let table = type == PERF_TYPE_HARDWARE.rawValue ? hardware : type == PERF_TYPE_SOFTWARE.rawValue ? software : []
    return table.first { $0.config == config }?.name ?? "event-\(type):\(config)"
  }

  /// Whether an attr is the software dummy event: a side-band carrier that never samples.
  public static func isDummy(type: UInt32, config: UInt64) -> Bool {
    type == PERF_TYPE_SOFTWARE.rawValue && config == UInt64(PERF_COUNT_SW_DUMMY.rawValue)
  }

  public static func generic(named name: String) -> Entry? {
    (hardware + software).first { $0.name == name || $0.aliases.contains(name) }
  }

  /// Parses a hardware-cache event name into its config (`id | op << 8 | result << 16`).
  public static func cacheConfig(named name: String) -> UInt64? {
    for (id, cache) in caches.enumerated() where name.hasPrefix(cache + "-") {
      let rest = name.dropFirst(cache.count + 1).split(separator: "-").map(String.init)
      guard let op = cacheOperations.firstIndex(where: { $0.0 == rest.first || $0.1 == rest.first }) else {
        return nil
      }
      var result = 0
      if rest.count == 2 {
        guard let r = cacheResults.firstIndex(where: { $0.0 == rest[1] || $0.1 == rest[1] }) else { return nil }
        result = r
      } else if rest.count != 1 {
        return nil
      }
      return UInt64(id) | UInt64(op) << 8 | UInt64(result) << 16
    }
    return nil
  }

  /// Every name the parser accepts without sysfs or tracefs, for suggestions.
  public static var allNames: [String] {
    (hardware + software).flatMap { [$0.name] + $0.aliases } + cacheEventNames
  }

  private static func hw(_ name: String, _ aliases: [String], _ id: perf_hw_id) -> Entry {
    Entry(name: name, aliases: aliases, type: PERF_TYPE_HARDWARE.rawValue, config: UInt64(id.rawValue))
  }

  private static func sw(_ name: String, _ aliases: [String], _ id: perf_sw_ids) -> Entry {
    Entry(name: name, aliases: aliases, type: PERF_TYPE_SOFTWARE.rawValue, config: UInt64(id.rawValue))
  }
}
