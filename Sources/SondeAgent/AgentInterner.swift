import Profiles
import SondeBPFEngines
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Interns what the agent keeps: functions, stacks (function ids, root first) and series (a process's
/// labels). The ids are the store's row ids: the interner is loaded from the store when the agent starts,
/// and what it created since the last window was written is inserted with that window, in one transaction.
/// Used from the agent's collection thread only.
final class AgentInterner {
  /// One table of interned values and their row ids, with the rows made since the store last took them.
  struct Table<Value: Hashable> {
    private var ids: [Value: Int64] = [:]
    private var values: [Int64: Value] = [:]
    private var next: Int64
    fileprivate(set) var pending: [(Int64, Value)] = []

    init(_ stored: [(Int64, Value)]) {
      for (id, value) in stored {
        ids[value] = id
        values[id] = value
      }
      next = (stored.map(\.0).max() ?? 0) + 1
    }

    /// The id of `value`, a new one (pending) when it was not interned yet.
    mutating func id(_ value: Value) -> Int64 {
      if let id = ids[value] { return id }
      let id = next
      next += 1
      ids[value] = id
      values[id] = value
      pending.append((id, value))
      return id
    }

    func value(_ id: Int64) -> Value? { values[id] }

    mutating func forget(_ gone: Set<Int64>) {
      guard !gone.isEmpty else { return }
      for id in gone {
        if let value = values.removeValue(forKey: id) { ids[value] = nil }
      }
    }
  }

  struct Pending {
    var functions: [(Int64, AgentFunction)] = []
    var stacks: [(Int64, [Int64])] = []
    var series: [(Int64, ProcessLabels)] = []
    var isEmpty: Bool { functions.isEmpty && stacks.isEmpty && series.isEmpty }
  }

  private var functions: Table<AgentFunction>
  private var stacks: Table<[Int64]>
  private var series: Table<ProcessLabels>
  /// Each live process's labels, read once (again when its comm changes: an exec).
  private var labelsByPid: [Int32: ProcessLabels] = [:]

  init(_ stored: ProfileStore.Interned) {
    functions = Table(stored.functions)
    stacks = Table(stored.stacks)
    series = Table(stored.series)
  }

  /// Hands over what was created since the last call (for the store to insert).
  func takePending() -> Pending {
    defer {
      functions.pending = []
      stacks.pending = []
      series.pending = []
    }
    return Pending(functions: functions.pending, stacks: stacks.pending, series: series.pending)
  }

  /// Puts back rows whose window could not be written, ahead of any made since: the next write inserts them.
  func restorePending(_ rows: Pending) {
    functions.pending = rows.functions + functions.pending
    stacks.pending = rows.stacks + stacks.pending
    series.pending = rows.series + series.pending
  }

  /// Forgets stacks and series the store no longer holds (after retention deleted their windows).
  func forget(stacks goneStacks: Set<Int64>, series goneSeries: Set<Int64>) {
    stacks.forget(goneStacks)
    series.forget(goneSeries)
  }

  /// The labels of series `id`.
  func labels(ofSeries id: Int64) -> ProcessLabels? { series.value(id) }

  /// The functions of stack `id`, root first.
  func functions(ofStack id: Int64) -> [AgentFunction]? {
    stacks.value(id).map {
      $0.map { functions.value($0) ?? AgentFunction(name: "[unknown]", module: "", isKernel: false) }
    }
  }

  func function(_ f: AgentFunction) -> Int64 { functions.id(f) }

  func stack(_ frames: [Int64]) -> Int64 { stacks.id(frames) }

  func series(_ labels: ProcessLabels) -> Int64 { series.id(labels) }

  /// The labels of `pid`, read from /proc the first time it shows up (and after an exec changes its comm).
  func labels(pid: Int32, comm: String) -> ProcessLabels {
    if let known = labelsByPid[pid], known.comm == comm { return known }
    let labels = ProcessLabels.read(pid: pid, comm: comm)
    labelsByPid[pid] = labels
    return labels
  }

  /// Drops the cached labels of processes that have exited (a pid reused later is read again).
  func forgetExitedProcesses() {
    labelsByPid = labelsByPid.filter { processExists($0.key) }
  }

  /// One drained window of the profiler as an interned slice.
  func slice(of window: ProfileWindow, lostBefore: ProfileAccounting?) -> AgentSlice {
    let resolved = window.resolved
    let source = resolved.source
    var slice = AgentSlice(start: window.startNanoseconds, end: window.endNanoseconds)
    var functionIDs = [Int64?](repeating: nil, count: resolved.functions.count)
    var frames: [Int64] = []
    for entry in source.entries {
      let thread = source.threads[entry.thread]
      frames.removeAll(keepingCapacity: true)
      for location in source.stack(entry.stack).reversed() {
        let index = Int(resolved.functionOfLocation[Int(location)])
        if let id = functionIDs[index] {
          frames.append(id)
        } else {
          let f = resolved.functions[index]
          let id = function(AgentFunction(name: f.name, module: f.module, isKernel: f.isKernel))
          functionIDs[index] = id
          frames.append(id)
        }
      }
      let key = AgentSampleKey(series: series(labels(pid: thread.pid, comm: thread.comm)), stack: stack(frames))
      // The weight: samples for CPU profiles (one per sample), nanoseconds blocked for off-CPU ones.
      slice.counts[key, default: 0] = slice.counts[key, default: 0].saturatingAdd(entry.weight)
    }
    let now = window.accounting
    let before = lostBefore ?? ProfileAccounting()
    slice.samples = now.samples.saturatingSubtracting(before.samples)
    let losses: [(String, UInt64, UInt64)] = [
      ("map_full", now.mapFullDrops, before.mapFullDrops),
      ("stack_collision", now.stackCollisions, before.stackCollisions),
      ("stack_map_full", now.stackMapFull, before.stackMapFull),
      ("stack_error", now.stackErrors, before.stackErrors),
      ("missing_stack", now.missingStacks, before.missingStacks),
      ("ringbuf_full", now.ringbufDrops, before.ringbufDrops),
      ("lost_records", now.lostRecords, before.lostRecords),
      ("unsymbolized", now.unsymbolizedSamples, before.unsymbolizedSamples),
    ]
    for (reason, a, b) in losses where a > b { slice.lost[reason] = a - b }
    return slice
  }
}
