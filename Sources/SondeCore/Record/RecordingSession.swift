import PerfEvents
import SondeSystem

/// The file side of a recording: rounds of records moved from the rings to the file (each round followed by
/// FINISHED_ROUND, as perf writes them), the header kept current as they go, with the counts of what was
/// captured and lost, and the build-ids of the binaries that samples hit.
struct RecordingSession {
  let writer: PerfDataWriter
  let decoder: RecordDecoder
  /// Flight recorder: the sample rings are backward and read once, at the end.
  let overwrite: Bool
  /// Forward rings: records go from ring memory to the file, round by round.
  var ringWriter = RingWriter()
  /// Records that are not in a forward ring (backward snapshots, flight-recorder side-band) meet here.
  var sorter = RecordSorter()
  var stats: RecordResult
  private var lastHeaderUpdate = 0.0

  init(writer: PerfDataWriter, decoder: RecordDecoder, overwrite: Bool) {
    self.writer = writer
    self.decoder = decoder
    self.overwrite = overwrite
    stats = RecordResult(
      output: writer.path, samples: 0, lost: 0, lostSamples: 0, throttles: 0, records: 0, bytesWritten: 0,
      durationSeconds: 0, commandExitCode: nil, rings: 0)
  }

  mutating func write(_ records: [[UInt8]]) throws(SondeError) {
    for r in records { try writer.append(r) }
  }

  private mutating func take(_ ring: SampleRing) {
    ring.drain { bytes in
      sorter.add(time: decoder.time(of: bytes), bytes: [UInt8](bytes))
      Recorder.count(bytes, into: &stats)
    }
  }

  /// One round: every ring's records to the file, then FINISHED_ROUND. The header's data size follows at
  /// most every 100 ms (one pwrite, not one per round: busy rings wake the loop hundreds of times a second),
  /// so a SIGKILL leaves a readable file missing at most that much of what was written. In flight-recorder
  /// mode only the forward side-band rings are read as we go.
  mutating func round(_ rings: [SampleRing]) throws(SondeError) {
    guard !overwrite else {
      for ring in rings where !ring.overwrite { take(ring) }
      return
    }
    if try ringWriter.write(rings, to: writer, stats: &stats, counting: writer.isPipe) {
      let now = monotonicSeconds()
      if now - lastHeaderUpdate >= 0.1 {
        try writer.sync()
        lastHeaderUpdate = now
      }
    }
  }

  /// After the events are disabled: what the rings still hold (for backward rings, the newest records the
  /// kernel did not overwrite).
  mutating func finalDrain(_ rings: [SampleRing]) throws(SondeError) {
    guard overwrite else {
      _ = try ringWriter.write(rings, to: writer, stats: &stats, counting: writer.isPipe)
      return
    }
    for ring in rings {
      _ = try? ring.snapshot { bytes in
        sorter.add(time: decoder.time(of: bytes), bytes: [UInt8](bytes))
        Recorder.count(bytes, into: &stats)
      }
    }
    for ring in rings where !ring.overwrite { take(ring) }
  }

  /// Writes what is left, the features (build-ids of the binaries hit) and the final header.
  mutating func finish(features: PerfDataFeatures) throws(SondeError) -> RecordResult {
    try write(sorter.finishAll())
    try writer.sync()
    var features = features
    // Like perf, build-ids are found after recording, from the file: the ring loop stays a copy. The same
    // pass counts the file's records (a stream's were counted as they went).
    if !writer.isPipe {
      var counted = stats
      (counted.samples, counted.lost, counted.lostSamples, counted.throttles, counted.records) = (0, 0, 0, 0, 0)
      if let entries = BuildIDCollector.entries(ofFile: writer.path, counting: &counted) {
        features.buildIDs = entries
        stats = counted
      }
    }
    try writer.finish(features: features)
    if writer.isPipe { stats.records = writer.recordCount }
    stats.bytesWritten = writer.bytesWritten
    return stats
  }
}
