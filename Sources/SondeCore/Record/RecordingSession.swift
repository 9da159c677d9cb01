import PerfEvents
import SondeSystem

/// The file side of a recording: rounds of records drained from the rings, merged across CPUs in time order
/// (each round followed by FINISHED_ROUND, as perf writes them), written and synced as they go, with the
/// counts of what was captured and lost, and the build-ids of the binaries that samples hit.
struct RecordingSession {
  let writer: PerfDataWriter
  let decoder: RecordDecoder
  /// Flight recorder: the sample rings are backward and read once, at the end.
  let overwrite: Bool
  var sorter = RecordSorter()
  var buildIDs: BuildIDCollector
  var bytesWritten: UInt64 = 0
  var stats: RecordResult

  init(writer: PerfDataWriter, decoder: RecordDecoder, overwrite: Bool) {
    self.writer = writer
    self.decoder = decoder
    self.overwrite = overwrite
    buildIDs = BuildIDCollector(decoder: decoder)
    stats = RecordResult(
      output: writer.path, samples: 0, lost: 0, lostSamples: 0, throttles: 0, records: 0, bytesWritten: 0,
      durationSeconds: 0, commandExitCode: nil, rings: 0)
  }

  mutating func write(_ records: [[UInt8]]) throws(SondeError) {
    for r in records {
      try writer.append(r)
      buildIDs.observe(r)
      bytesWritten += UInt64(r.count)
    }
  }

  private mutating func take(_ ring: SampleRing) {
    ring.drain { bytes in
      sorter.add(time: decoder.time(of: bytes), bytes: [UInt8](bytes))
      Recorder.count(bytes, into: &stats)
    }
  }

  /// One round: drain every ring (so the next round's horizon is safe for all CPUs), write what is ready,
  /// and put it on disk, header included: a SIGKILL loses at most the current round. In flight-recorder
  /// mode only the forward side-band rings are read as we go.
  mutating func round(_ rings: [SampleRing]) throws(SondeError) {
    guard !overwrite else {
      for ring in rings where !ring.overwrite { take(ring) }
      return
    }
    for ring in rings { take(ring) }
    let ready = sorter.finishRound()
    if !ready.isEmpty {
      try write(ready + [RecordSorter.finishedRoundRecord])
      try writer.sync()
    }
  }

  /// After the events are disabled: what the rings still hold (for backward rings, the newest records the
  /// kernel did not overwrite).
  mutating func finalDrain(_ rings: [SampleRing]) {
    for ring in rings {
      if overwrite {
        _ = try? ring.snapshot { bytes in
          sorter.add(time: decoder.time(of: bytes), bytes: [UInt8](bytes))
          Recorder.count(bytes, into: &stats)
        }
      } else {
        take(ring)
      }
    }
  }

  /// Writes the rest in time order, the features (build-ids of the binaries hit) and the final header.
  mutating func finish(features: PerfDataFeatures) throws(SondeError) -> RecordResult {
    try write(sorter.finishAll())
    var features = features
    features.buildIDs = buildIDs.entries()
    try writer.finish(features: features)
    stats.records = writer.recordCount
    stats.bytesWritten = bytesWritten
    return stats
  }
}
