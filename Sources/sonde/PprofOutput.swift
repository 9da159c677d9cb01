import ArgumentParser
import Pprof
import Profiles

/// Writes `profile` as a gzipped pprof file at `path`, with `comments` (what was sampled and lost) and the
/// build-ids known for its binaries.
func writePprof(
  _ path: String, _ profile: ResolvedProfile, weightIsCount: Bool, startTime: Int64, comments: [String],
  buildIDs: [String: [UInt8]], verb: String
) throws {
  var options = PprofExporter.Options.fitting(profile.source, weightIsCount: weightIsCount)
  options.startTimeNanoseconds = startTime
  options.comments = comments
  options.buildIDs = buildIDs
  let bytes: [UInt8]
  do {
    bytes = try PprofExporter.render(profile, options: options)
  } catch {
    writeError("cannot encode \(path): \(error)", verb: verb)
    throw ExitCode.failure
  }
  try writeWholeFile(path, bytes: bytes, verb: verb)
}
