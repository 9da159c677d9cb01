import Profiles
import SondeBPFEngines
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The continuous profiler behind `sonde agent`: runs the eBPF profiler system-wide without end (CPU samples,
/// or with `offCPU` nanoseconds blocked per stack), turns each drain (a slice, two seconds by default) into
/// interned samples labelled by process, merges slices into windows that go to the store (and the push
/// queue), keeps the last minutes of slices in memory for live queries, and answers the HTTP server's
/// queries. It never prints; it logs through `log`.
public final class Agent: @unchecked Sendable {
  public let options: AgentOptions
  public let store: ProfileStore
  let metrics: AgentMetrics
  let queue: PushQueue?
  let pusher: Pusher?
  private let interner: AgentInterner
  private let log: @Sendable (String) -> Void
  private let live = Locked(Live())
  /// The resolved frames of the stacks the live slices hold, one array per stack.
  private let sharedFrames = Locked(SharedFrames())

  /// Slices kept in memory for live queries, resolved (so queries do not touch the interner), and where
  /// the store's windows end.
  private struct Live {
    var slices: [(start: Int64, end: Int64, entries: [AgentProfile.Entry], stacks: [Int64])] = []
    var storedUntil: Int64 = 0
    /// What the run stored: samples, windows and samples lost.
    var stored: (samples: UInt64, windows: Int, lost: UInt64) = (0, 0, 0)
    /// Set by retention: the collector then deletes unreferenced stacks and series (and forgets them).
    var collectGarbage = false
  }
  /// Seconds of slices kept in memory.
  static let liveSeconds: Int64 = 300

  public init(options: AgentOptions, log: @escaping @Sendable (String) -> Void) throws(SondeError) {
    self.options = options
    self.log = log
    metrics = AgentMetrics(kind: options.profileKind)
    try Self.prepareDataDirectory(options.dataDirectory)
    store = try ProfileStore(directory: options.dataDirectory, kind: options.profileKind)
    interner = AgentInterner(try store.interned())
    let lastEnd = try store.lastWindowEnd()
    live.withLock { $0.storedUntil = lastEnd }
    if let url = options.pushURL {
      let queue = try PushQueue(directory: options.dataDirectory + "/push", capacity: options.pushQueueCapacity)
      self.queue = queue
      pusher = try Pusher(
        queue: queue, url: url, hostLabel: options.hostLabel ?? Self.hostName(), kind: options.profileKind,
        frequency: options.frequency,
        maxBackoff: options.pushMaxBackoff, metrics: metrics, log: log)
    } else {
      queue = nil
      pusher = nil
    }
  }

  /// Profiles until `stop` is stopped, then writes the window in progress. Blocks: run it on its own
  /// thread. Throws when the profiler cannot start (no privileges, no BPF).
  public func collect(stop: StopToken) throws(SondeError) {
    var profilerOptions = ProfilerOptions()
    profilerOptions.frequency = options.frequency
    profilerOptions.target = .systemWide
    profilerOptions.interval = options.sliceSeconds
    profilerOptions.unwind = options.unwind
    if options.offCPU { profilerOptions.mode = .offCPU(minimumBlockMicroseconds: options.minimumBlockMicroseconds) }
    // At 19 Hz a second's drain holds a few dozen stacks: small maps, and symbol tables of the binaries in
    // use only (those of exited processes are dropped every minute).
    // Off-CPU stacks stay in their map for the whole run (a blocked thread's stack is used when it wakes):
    // more room, and what no longer fits is counted as lost.
    profilerOptions.stackMapEntries = options.offCPU ? 16384 : 2048
    profilerOptions.countsMapEntries = 4096
    profilerOptions.symbolCacheBytes = 32 << 20
    let profiler = BPFProfiler(options: profilerOptions)
    var window: AgentSlice?
    var accountingBefore: ProfileAccounting?
    // Retention runs on its own thread (a compaction or vacuum must not hold up the drains); what it freed
    // reaches the interner here, on the collector's thread.
    let maintenance = BlockingThread { [self] thread in
      while !thread.isStopped {
        maintain()
        thread.token.wait(seconds: 300)
      }
    }
    defer { maintenance.stop() }
    profiler.onWindow = { [self] drained in
      let requested = live.withLock { l in
        defer { l.collectGarbage = false }
        return l.collectGarbage
      }
      if requested { collectGarbage() }
      let slice = interner.slice(of: drained, lostBefore: accountingBefore)
      accountingBefore = drained.accounting
      remember(slice)
      if window == nil { window = AgentSlice(start: slice.start, end: slice.start) }
      window?.merge(slice)
      // Windows end on multiples of the window length (wall clock), so they line up across restarts.
      let length = Int64(options.windowSeconds * 1e9)
      if let w = window, w.end / length > w.start / length || stop.isStopped {
        write(w)
        window = nil
        if w.end / (60 * 1_000_000_000) > w.start / (60 * 1_000_000_000) {
          interner.forgetExitedProcesses()
          // Once a minute, when the tables of exited processes have just gone, give free heap pages back
          // (a trim every window cost 0.016% of a core side by side, for 1 MB).
          Heap.trim()
        }
      }
    }
    _ = try profiler.run(stop: stop)
    if let w = window, w.end > w.start { write(w) }
    let stored = live.withLock { $0.stored }
    log("stored \(stored.samples) samples in \(stored.windows) windows, \(stored.lost) lost")
  }

  /// Resolves `slice` for live queries and keeps the last `liveSeconds` of them.
  private func remember(_ slice: AgentSlice) {
    var stacks: [Int64] = []
    let entries = sharedFrames.withLock { shared in
      resolve(slice) { stack in
        let frames = shared.retain(stack) { interner.functions(ofStack: stack) }
        if frames != nil { stacks.append(stack) }
        return frames
      }
    }
    let expired = live.withLock { l in
      l.slices.append((slice.start, slice.end, entries, stacks))
      let horizon = slice.end - Self.liveSeconds * 1_000_000_000
      let expired = l.slices.filter { $0.end < horizon }.map(\.stacks)
      l.slices.removeAll { $0.end < horizon }
      return expired
    }
    sharedFrames.withLock { shared in
      for stacks in expired { shared.release(stacks) }
    }
  }

  /// The entries of `slice` with their labels and the frames `frames` gives each stack, leaving out those
  /// whose series or stack the interner no longer knows. `frames` is asked only for entries whose series is
  /// known.
  private func resolve(_ slice: AgentSlice, frames: (Int64) -> [AgentFunction]?) -> [AgentProfile.Entry] {
    slice.counts.compactMap { key, count in
      guard let labels = interner.labels(ofSeries: key.series), let frames = frames(key.stack)
      else { return nil }
      return AgentProfile.Entry(labels: labels, frames: frames, count: count)
    }
  }

  /// Stores a window (with what the interner created for it) and queues it for the push.
  private func write(_ window: AgentSlice) {
    let pending = interner.takePending()
    do throws(SondeError) {
      try store.write(window, resolutionSeconds: Int(options.windowSeconds.rounded()), pending: pending)
      live.withLock {
        $0.storedUntil = max($0.storedUntil, window.end)
        $0.stored.samples = $0.stored.samples.saturatingAdd(window.sampleCount)
        $0.stored.windows += 1
        $0.stored.lost = $0.stored.lost.saturatingAdd(window.lostCount)
      }
      // The metrics need each series' comm only; frames are resolved for the push alone.
      var byComm: [String: UInt64] = [:]
      for (key, count) in window.counts {
        if let comm = interner.labels(ofSeries: key.series)?.comm {
          byComm[comm, default: 0] = byComm[comm, default: 0].saturatingAdd(count)
        }
      }
      metrics.recordWindow(window, byComm: byComm)
      if let queue {
        let profile = AgentProfile(
          from: window.start, to: window.end, entries: resolve(window, frames: interner.functions(ofStack:)),
          frequency: options.frequency, kind: options.profileKind)
        do {
          try queue.enqueue(try AgentExport.pprof(profile), start: window.start, end: window.end)
        } catch {
          log("push queue: \(error)")
        }
      }
    } catch {
      // The rows this window interned were not stored: the next write inserts them.
      interner.restorePending(pending)
      log("store: \(error.description)")
    }
  }

  /// Retention and compaction; what the store freed is handed to the collector's interner.
  private func maintain() {
    do throws(SondeError) {
      try store.maintain(
        now: wallClockNanoseconds(), maxAge: options.retentionSeconds, maxBytes: options.maxStoreBytes,
        compactAfter: options.compactAfterSeconds)
      live.withLock { $0.collectGarbage = true }
    } catch {
      log("store retention: \(error.description)")
    }
  }

  /// Deletes what retention left unreferenced, and makes the interner forget it (collector thread).
  private func collectGarbage() {
    do throws(SondeError) {
      let gone = try store.collectGarbage()
      interner.forget(stacks: gone.stacks, series: gone.series)
    } catch {
      log("store retention: \(error.description)")
    }
  }

  /// Samples in [from, to) nanoseconds that `filter` accepts: the stored windows, and the live slices
  /// after the last stored window (the window in progress).
  public func profile(from: Int64, to: Int64, filter: ProfileFilter) async throws(SondeError) -> AgentProfile {
    // The live part first: a window stored meanwhile is then left out of the store's answer (it ends after
    // `storedUntil`), not counted twice.
    let (slices, storedUntil) = live.withLock { ($0.slices, $0.storedUntil) }
    var result = try await store.profile(
      from: from, to: to, until: storedUntil, filter: filter, frequency: options.frequency)
    for slice in slices where slice.start >= storedUntil && slice.end > from && slice.start < to {
      result.entries += slice.entries.filter { filter.accepts($0.labels) }
    }
    return result
  }

  /// Samples of the live slices that ended after `since` (nanoseconds): what `/debug/pprof/profile` returns
  /// after waiting its seconds.
  public func liveProfile(since: Int64, filter: ProfileFilter) -> AgentProfile {
    let slices = live.withLock { $0.slices }
    var result = AgentProfile(
      from: since, to: wallClockNanoseconds(), frequency: options.frequency, kind: options.profileKind)
    for slice in slices where slice.end > since {
      result.entries += slice.entries.filter { filter.accepts($0.labels) }
    }
    return result
  }

  /// The window summaries of [from, to) plus the window in progress (live), for the timeline.
  public func timeline(from: Int64, to: Int64) async throws(SondeError) -> [ProfileStore.WindowSummary] {
    let (slices, storedUntil) = live.withLock { ($0.slices, $0.storedUntil) }
    var windows = try await store.windows(from: from, to: to).filter { $0.end <= storedUntil }
    let pending = slices.filter { $0.start >= storedUntil && $0.end > from && $0.start < to }
    if let first = pending.first, let last = pending.last {
      let samples = pending.reduce(UInt64(0)) { $0 + $1.entries.reduce(0) { $0 + $1.count } }
      windows.append(ProfileStore.WindowSummary(start: first.start, end: last.end, samples: samples))
    }
    return windows
  }

  /// The Prometheus exposition text.
  public func metricsText() -> [UInt8] {
    metrics.render(storeSize: store.sizeBytes, queue: queue?.items().count ?? 0, queueDropped: queue?.dropped ?? 0)
  }

  /// Creates the data directory (0700), or checks an existing one is a directory this user owns that
  /// nobody else can write: the agent runs as root and writes there, so a directory another user controls
  /// could redirect its files.
  static func prepareDataDirectory(_ path: String) throws(SondeError) {
    if mkdir(path, 0o700) == 0 { return }
    let e = errno
    guard e == EEXIST else {
      throw SondeError(
        e == EACCES ? .permissionDenied : .system, operation: "create \(path)", errno: e, reason: errnoDescription(e))
    }
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
      throw SondeError.invalid("agent --data \(path)", "is not a directory")
    }
    guard info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else {
      throw SondeError.invalid(
        "agent --data \(path)", "is not owned by this user, or others may write it",
        remedy: "chown it to this user and chmod go-w, or give another --data")
    }
  }

  static func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, 255) == 0 else { return "unknown" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// Each stack's resolved frames made once and shared by every live slice entry that holds it (Swift arrays
/// share their storage when copied): an array per entry held megabytes over the live five minutes, most of
/// them the same idle and collector stacks. Counted per entry, released when the slice expires.
struct SharedFrames {
  private var frames: [Int64: (frames: [AgentFunction], users: Int)] = [:]

  /// The frames of `stack`, resolved the first time and counted once more.
  mutating func retain(_ stack: Int64, resolving resolve: () -> [AgentFunction]?) -> [AgentFunction]? {
    if let known = frames[stack] {
      frames[stack] = (known.frames, known.users + 1)
      return known.frames
    }
    guard let resolved = resolve() else { return nil }
    frames[stack] = (resolved, 1)
    return resolved
  }

  /// One use less of each of `stacks`; a stack no entry uses is forgotten.
  mutating func release(_ stacks: [Int64]) {
    for stack in stacks {
      guard let known = frames[stack] else { continue }
      frames[stack] = known.users > 1 ? (known.frames, known.users - 1) : nil
    }
  }

  var count: Int { frames.count }
}
