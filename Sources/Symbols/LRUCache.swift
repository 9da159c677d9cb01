/// A small least-recently-used cache: lookups refresh an entry, inserts beyond `capacity` evict the
/// entry used longest ago. Not thread-safe by itself; the Symbolizer guards it with its lock.
struct LRUCache<Key: Hashable, Value> {
  private var entries: [Key: (value: Value, tick: UInt64)] = [:]
  private var clock: UInt64 = 0
  let capacity: Int

  init(capacity: Int) { self.capacity = max(1, capacity) }

  var count: Int { entries.count }

  mutating func get(_ key: Key) -> Value? {
    guard let entry = entries[key] else { return nil }
    clock += 1
    entries[key] = (entry.value, clock)
    return entry.value
  }

  mutating func set(_ key: Key, _ value: Value) {
    clock += 1
    entries[key] = (value, clock)
    if entries.count > capacity, let oldest = entries.min(by: { $0.value.tick < $1.value.tick })?.key {
      entries.removeValue(forKey: oldest)
    }
  }

  mutating func remove(_ key: Key) { entries.removeValue(forKey: key) }
  mutating func removeAll() { entries.removeAll() }
}
