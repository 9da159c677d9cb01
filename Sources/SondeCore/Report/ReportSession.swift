import PerfEvents
import Profiles
import Symbols
import SondeSystem

/// Opens a perf.data file and produces its symbolized profile: the common first step of report,
/// folded and flame graph output.
public struct ReportSession {
  public let file: PerfDataFile
  public let profile: Profile
  public let summary: ProfileLoader.Summary
  public let resolved: ResolvedProfile
  /// GNU build-ids by file path: those the recording wrote (its build-id table, MMAP2 records), then those
  /// of the binaries on this machine that symbolized it.
  public let buildIDs: [String: [UInt8]]

  public init(path: String, loader: ProfileLoader = ProfileLoader()) throws(SondeError) {
    try self.init(file: PerfDataFile(path: path), loader: loader)
  }

  public init(file: PerfDataFile, loader: ProfileLoader = ProfileLoader()) throws(SondeError) {
    self.file = file
    let (symbolizer, sameKernel, prefetch) = Self.symbolizer(for: file)
    defer { prefetch?.stop() }
    (profile, summary) = try loader.load(file)
    let resolver = FileSymbolResolver(profile: profile, sameKernel: sameKernel, symbolizer: symbolizer)
    resolved = ResolvedProfile(profile) { pid, address, kernel, ret in
      resolver.resolve(pid: pid, address: address, isKernel: kernel, isReturnAddress: ret)
    }
    var ids = resolver.loadedBuildIDs
    for entry in file.features.buildIDs where !entry.buildID.isEmpty { ids[entry.filename] = entry.buildID }
    for m in profile.mappings { if let id = m.buildID, !id.isEmpty { ids[m.path] = id } }
    buildIDs = ids
  }

  /// A symbolizer for `file`, whether it was recorded on this kernel, and — when its events sample kernel
  /// code there — the thread already loading kallsyms while the caller reads the file (stop it when done).
  static func symbolizer(for file: PerfDataFile) -> (Symbolizer, sameKernel: Bool, prefetch: BlockingThread?) {
    let sameKernel = recordedOnThisKernel(file)
    let symbolizer = Symbolizer()
    let samplesKernel = file.events.isEmpty || file.events.contains { $0.attributes.exclude_kernel == 0 }
    return (symbolizer, sameKernel, samplesKernel && sameKernel ? symbolizer.prefetchKernelSymbols() : nil)
  }

  /// Whether the file's os release matches the running kernel (true when the file does not say).
  public static func recordedOnThisKernel(_ file: PerfDataFile) -> Bool {
    guard let recorded = file.features.osRelease else { return true }
    return recorded == HostFeatures.collect(commandLine: []).osRelease
  }
}
