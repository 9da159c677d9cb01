/// Merges records drained from several per-CPU rings into one time-ordered stream, in rounds, the way
/// perf's FINISHED_ROUND protocol does: after each round of draining every ring, records no newer than
/// the newest time seen in the *previous* round are safe to write (every ring has already been read past
/// them), so memory stays bounded by about two rounds of data instead of the whole recording.
public struct RecordSorter: Sendable {
  private var pending: [(time: UInt64, sequence: Int, bytes: [UInt8])] = []
  private var sequence = 0
  private var newestThisRound: UInt64 = 0
  private var newestPreviousRound: UInt64 = 0

  public init() {}

  /// Records waiting for a later round.
  public var pendingCount: Int { pending.count }

  /// Adds one record with its timestamp (0 for records without one: they sort first).
  public mutating func add(time: UInt64, bytes: [UInt8]) {
    pending.append((time, sequence, bytes))
    sequence += 1
    newestThisRound = max(newestThisRound, time)
  }

  /// Ends a round of draining all rings; returns the records that are now safe to write, in order.
  public mutating func finishRound() -> [[UInt8]] {
    let horizon = newestPreviousRound
    newestPreviousRound = newestThisRound
    guard !pending.isEmpty else { return [] }
    pending.sort { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }
    var cut = 0
    while cut < pending.count && pending[cut].time <= horizon { cut += 1 }
    let ready = pending[0..<cut].map(\.bytes)
    pending.removeFirst(cut)
    return ready
  }

  /// Everything still pending, in order (after the last round).
  public mutating func finishAll() -> [[UInt8]] {
    pending.sort { $0.time != $1.time ? $0.time < $1.time : $0.sequence < $1.sequence }
    let all = pending.map(\.bytes)
    pending.removeAll()
    return all
  }

  /// The 8-byte PERF_RECORD_FINISHED_ROUND record perf writes between rounds.
  public static let finishedRoundRecord: [UInt8] = {
    var w = ByteWriter(capacity: 8)
    w.u32(RecordType.finishedRound)
    w.u16(0)
    w.u16(8)
    return w.bytes
  }()
}
