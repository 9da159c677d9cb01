import PerfEvents
import SondeSystem

/// Moves every ring's unread records to the file in one gathering write per round, straight from ring
/// memory: no record is copied or decoded in user space. Each round ends with FINISHED_ROUND, so the file
/// follows perf's ordering protocol: records are in time order within each ring's run, and no record after a
/// round marker is older than the newest record two markers back — what perf's and Sonde's readers rely on
/// to sort as they read. A file is counted after recording, in the pass that finds build-ids; only a stream
/// (which cannot be read back) has its records counted here, by their headers.
struct RingWriter {
  private var segments: [UnsafeRawBufferPointer] = []
  private var heads: [UInt64] = []

  /// Writes what every ring holds, then FINISHED_ROUND if anything was written, and gives the space back.
  /// With `counting`, counts the records into `stats`. Returns whether anything was written.
  mutating func write(
    _ rings: [SampleRing], to writer: PerfDataWriter, stats: inout RecordResult, counting: Bool
  ) throws(SondeError) -> Bool {
    segments.removeAll(keepingCapacity: true)
    heads.removeAll(keepingCapacity: true)
    var records = 0
    for ring in rings {
      let unread = ring.unread()
      heads.append(unread.head)
      guard unread.count > 0 else { continue }
      if counting {
        ring.peek(upTo: unread.head) { _, bytes in
          Recorder.count(bytes, into: &stats)
          records += 1
        }
      }
      segments.append(unread.first)
      if !unread.second.isEmpty { segments.append(unread.second) }
    }
    guard !segments.isEmpty else { return false }
    segments.append(UnsafeRawBufferPointer(Self.finishedRound.memory))
    try writer.write(segments: segments, records: counting ? records + 1 : 0)
    for (ring, head) in zip(rings, heads) { ring.release(upTo: head) }
    return true
  }
}

extension RingWriter {
  /// The 8-byte FINISHED_ROUND record, in memory that lives as long as the process.
  static let finishedRound: StaticBytes = StaticBytes(RecordSorter.finishedRoundRecord)
}

/// Bytes copied once into memory that is never freed or moved, so raw pointers to it stay valid.
final class StaticBytes: @unchecked Sendable {
  let memory: UnsafeMutableRawBufferPointer
  init(_ bytes: [UInt8]) {
    memory = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
    memory.copyBytes(from: bytes)
  }
}
