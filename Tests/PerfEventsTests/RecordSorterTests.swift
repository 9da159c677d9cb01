import Testing

@testable import PerfEvents

/// Round-based merging of per-CPU streams into time order.
struct RecordSorterTests {
  static func record(_ t: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: t >> (8 * UInt64($0))) } }
  static func time(_ b: [UInt8]) -> UInt64 {
    b.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
  }

  @Test func recordsAreReleasedOnlyBehindThePreviousRoundsNewestTime() {
    var s = RecordSorter()
    // Round 1: CPU0 saw 10, 30; CPU1 saw 20. Nothing is safe yet (no previous round).
    for t: UInt64 in [10, 30, 20] { s.add(time: t, bytes: Self.record(t)) }
    #expect(s.finishRound().isEmpty)
    // Round 2: a late record at 25 from CPU1 and a new one at 50 from CPU0.
    for t: UInt64 in [50, 25] { s.add(time: t, bytes: Self.record(t)) }
    #expect(s.finishRound().map(Self.time) == [10, 20, 25, 30], "everything up to round 1's newest (30)")
    s.add(time: 40, bytes: Self.record(40))
    #expect(s.finishRound().map(Self.time) == [40, 50])
    s.add(time: 60, bytes: Self.record(60))
    #expect(s.finishAll().map(Self.time) == [60])
    #expect(s.pendingCount == 0)
  }

  @Test func equalTimesKeepArrivalOrder() {
    var s = RecordSorter()
    s.add(time: 5, bytes: [1])
    s.add(time: 5, bytes: [2])
    s.add(time: 0, bytes: [3])
    #expect(s.finishAll() == [[3], [1], [2]])
  }

  @Test func theFinishedRoundRecordIsAHeaderOnlyType68() {
    #expect(RecordSorter.finishedRoundRecord == [68, 0, 0, 0, 0, 0, 8, 0])
  }
}
