/// A small least-recently-used cache bounded by entry count and by a total cost (e.g. bytes): lookups refresh
/// an entry; inserts evict the entries used longest ago until both bounds hold (the newest entry always stays).
/// Not thread-safe by itself; the Symbolizer guards it with its lock.
struct LRUCache<Key: Hashable, Value> {
  private var entries: [Key: (value: Value, tick: UInt64, cost: Int)] = [:]
  private var clock: UInt64 = 0
  let capacity: Int
  let maxCost: Int
  /// Sum of the costs of the entries held.
  private(set) var totalCost = 0

  init(capacity: Int, maxCost: Int = .max) {
    self.capacity = max(1, capacity)
    self.maxCost = maxCost
  }

  var count: Int { entries.count }

  /// The cached values, in no order.
  var values: [Value] { entries.values.map(\.value) }

  mutating func get(_ key: Key) -> Value? {
    guard let entry = entries[key] else { return nil }
    clock += 1
    entries[key] = (entry.value, clock, entry.cost)
    return entry.value
  }

  /// Inserts or replaces; returns the keys evicted to make room.
  @discardableResult
  mutating func set(_ key: Key, _ value: Value, cost: Int = 0) -> [Key] {
    clock += 1
    if let old = entries[key] { totalCost -= old.cost }
    entries[key] = (value, clock, cost)
    totalCost += cost
    var evicted: [Key] = []
    while entries.count > 1 && (entries.count > capacity || totalCost > maxCost) {
      guard let oldest = entries.min(by: { $0.value.tick < $1.value.tick })?.key, oldest != key else { break }
      totalCost -= entries[oldest]?.cost ?? 0
      entries.removeValue(forKey: oldest)
      evicted.append(oldest)
    }
    return evicted
  }

  mutating func remove(_ key: Key) {
    if let old = entries.removeValue(forKey: key) { totalCost -= old.cost }
  }

  mutating func removeAll() {
    entries.removeAll()
    totalCost = 0
  }
}
