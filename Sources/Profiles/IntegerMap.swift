/// A map from 64-bit keys to dense ids (0, 1, 2, … in insertion order): open addressing with a seeded
/// multiply-xorshift mix, for the per-sample lookups where `Dictionary`'s SipHash would dominate (a sample's
/// (stack, thread) entry). The seed is per process, so crafted input cannot aim at one bucket.
public struct IntegerMap: Sendable {
  @usableFromInline var keys: [UInt64]
  /// id + 1 per slot (0: empty); the count is a power of two.
  @usableFromInline var slots: [Int32]
  @usableFromInline var count_ = 0
  @usableFromInline let seed: UInt64

  public init(capacity: Int = 64) {
    var size = 16
    while size < capacity * 2 { size <<= 1 }
    keys = [UInt64](repeating: 0, count: size)
    slots = [Int32](repeating: 0, count: size)
    seed = HashSeed.value
  }

  /// Keys so far.
  @inlinable public var count: Int { count_ }

  /// The id of `key`, assigning the next one when new.
  @inlinable
  public mutating func id(_ key: UInt64) -> (id: Int, inserted: Bool) {
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: Self.mix(key ^ seed)) & mask
    while slots[slot] != 0 {
      if keys[slot] == key { return (Int(slots[slot]) - 1, false) }
      slot = (slot + 1) & mask
    }
    let id = count_
    keys[slot] = key
    slots[slot] = Int32(truncatingIfNeeded: id + 1)
    count_ += 1
    if count_ * 2 > slots.count { grow() }
    return (id, true)
  }

  @inlinable
  mutating func grow() {
    let oldKeys = keys
    let oldSlots = slots
    keys = [UInt64](repeating: 0, count: oldSlots.count * 2)
    slots = [Int32](repeating: 0, count: oldSlots.count * 2)
    let mask = slots.count - 1
    for i in oldSlots.indices where oldSlots[i] != 0 {
      var slot = Int(truncatingIfNeeded: Self.mix(oldKeys[i] ^ seed)) & mask
      while slots[slot] != 0 { slot = (slot + 1) & mask }
      keys[slot] = oldKeys[i]
      slots[slot] = oldSlots[i]
    }
  }

  @inlinable @inline(__always)
  static func mix(_ x: UInt64) -> UInt64 {
    var h = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
    h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 31)
  }
}
