#if canImport(Glibc)
  import Glibc
#endif

/// Interns sequences of integers: every distinct sequence gets a dense id (0, 1, 2, …) and is stored once,
/// back to back in one flat buffer, so a table of a million stacks is three arrays, not a million.
///
/// Lookups hash the elements (seeded per process, so a crafted file cannot force every sequence into one
/// bucket) into an open-addressing table of ids, and compare candidates element by element. Nothing is
/// allocated per lookup: callers pass the sequence as a buffer pointer.
public struct SequenceTable<Element: FixedWidthInteger & Sendable>: Sendable {
  /// Every sequence's elements, back to back in id order.
  public var elements: [Element] { flatElements }
  /// `ends[id]` is one past the last element of sequence `id`; it starts at `ends[id - 1]` (0 for id 0).
  public var ends: [Int] { sequenceEnds }
  @usableFromInline var flatElements: [Element] = []
  @usableFromInline var sequenceEnds: [Int] = []
  @usableFromInline var hashes: [UInt64] = []
  /// Open-addressing slots holding id + 1 (0: empty); the count is a power of two.
  @usableFromInline var slots: [Int32]
  @usableFromInline let seed: UInt64

  public init(capacity: Int = 64) {
    var size = 16
    while size < capacity * 2 { size <<= 1 }
    slots = [Int32](repeating: 0, count: size)
    seed = Self.processSeed
  }

  /// Distinct sequences so far.
  @inlinable
  public var count: Int { sequenceEnds.count }

  /// The elements of sequence `id`.
  @inlinable
  public subscript(id: Int) -> ArraySlice<Element> { flatElements[range(of: id)] }

  /// Where sequence `id` sits in `elements`.
  @inlinable
  public func range(of id: Int) -> Range<Int> { (id == 0 ? 0 : sequenceEnds[id - 1])..<sequenceEnds[id] }

  /// The id of `sequence`, adding it when new.
  @discardableResult
  @inlinable
  public mutating func intern(_ sequence: UnsafeBufferPointer<Element>) -> (id: Int, inserted: Bool) {
    let hash = Self.hash(sequence, seed: seed)
    let mask = slots.count - 1
    var slot = Int(truncatingIfNeeded: hash) & mask
    while true {
      let occupant = Int(slots[slot])
      if occupant == 0 { break }
      let id = occupant - 1
      if hashes[id] == hash && equals(id, sequence) { return (id, false) }
      slot = (slot + 1) & mask
    }
    let id = sequenceEnds.count
    flatElements.append(contentsOf: sequence)
    sequenceEnds.append(flatElements.count)
    hashes.append(hash)
    slots[slot] = Int32(truncatingIfNeeded: id + 1)
    if sequenceEnds.count * 2 > slots.count { grow() }
    return (id, true)
  }

  /// The id of `sequence`, adding it when new.
  @discardableResult
  @inlinable
  public mutating func intern(_ sequence: [Element]) -> (id: Int, inserted: Bool) {
    sequence.withUnsafeBufferPointer { intern($0) }
  }

  /// Bytes the table holds (elements, ends, hashes and slots), for memory bounds.
  public var storageBytes: Int {
    flatElements.capacity * MemoryLayout<Element>.stride + sequenceEnds.capacity * 8 + hashes.capacity * 8 + slots.count
      * 4
  }

  @inlinable
  func equals(_ id: Int, _ sequence: UnsafeBufferPointer<Element>) -> Bool {
    let r = range(of: id)
    guard r.count == sequence.count else { return false }
    guard r.count > 0, let theirs = sequence.baseAddress else { return true }
    return flatElements.withUnsafeBufferPointer { all in
      memcmp(all.baseAddress! + r.lowerBound, theirs, r.count * MemoryLayout<Element>.stride) == 0
    }
  }

  @inlinable
  mutating func grow() {
    var bigger = [Int32](repeating: 0, count: slots.count * 2)
    let mask = bigger.count - 1
    for id in 0..<sequenceEnds.count {
      var slot = Int(truncatingIfNeeded: hashes[id]) & mask
      while bigger[slot] != 0 { slot = (slot + 1) & mask }
      bigger[slot] = Int32(truncatingIfNeeded: id + 1)
    }
    slots = bigger
  }

  /// A fast multiply-xorshift hash of the elements and the length (not cryptographic; seeded).
  @inlinable @inline(__always)
  static func hash(_ sequence: UnsafeBufferPointer<Element>, seed: UInt64) -> UInt64 {
    var h = seed ^ (UInt64(sequence.count) &* 0x9E37_79B9_7F4A_7C15)
    for x in sequence {
      h = (h ^ UInt64(truncatingIfNeeded: x)) &* 0xBF58_476D_1CE4_E5B9
      h ^= h >> 31
    }
    h = (h ^ (h >> 30)) &* 0x94D0_49BB_1331_11EB
    return h ^ (h >> 29)
  }

  /// One random seed per process.
  static var processSeed: UInt64 { HashSeed.value }
}

/// The process's hash seed for `SequenceTable`.
enum HashSeed {
  static let value = UInt64.random(in: 1...UInt64.max)
}
