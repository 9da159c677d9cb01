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

  public init(path: String, loader: ProfileLoader = ProfileLoader()) throws(SondeError) {
    try self.init(file: PerfDataFile(path: path), loader: loader)
  }

  public init(file: PerfDataFile, loader: ProfileLoader = ProfileLoader()) throws(SondeError) {
    self.file = file
    let sameKernel = Self.recordedOnThisKernel(file)
    let symbolizer = Symbolizer()
    let prefetch = Self.samplesKernel(file) && sameKernel ? symbolizer.prefetchKernelSymbols() : nil
    defer { prefetch?.stop() }
    (profile, summary) = try loader.load(file)
    let resolver = FileSymbolResolver(profile: profile, sameKernel: sameKernel, symbolizer: symbolizer)
    resolved = ResolvedProfile(profile) { pid, address, kernel, ret in
      resolver.resolve(pid: pid, address: address, isKernel: kernel, isReturnAddress: ret)
    }
  }

  /// Whether any event of the file samples kernel code (so its stacks will want kallsyms).
  public static func samplesKernel(_ file: PerfDataFile) -> Bool {
    file.events.isEmpty || file.events.contains { $0.attributes.exclude_kernel == 0 }
  }

  /// Whether the file's os release matches the running kernel (true when the file does not say).
  public static func recordedOnThisKernel(_ file: PerfDataFile) -> Bool {
    guard let recorded = file.features.osRelease else { return true }
    return recorded == HostFeatures.collect(commandLine: []).osRelease
  }
}
