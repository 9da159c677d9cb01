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
  struct Pending {
    var functions: [(Int64, AgentFunction)] = []
    var stacks: [(Int64, [Int64])] = []
    var series: [(Int64, ProcessLabels)] = []
    var isEmpty: Bool { functions.isEmpty && stacks.isEmpty && series.isEmpty }
  }

  private var functions: [AgentFunction: Int64] = [:]
  private var stacks: [[Int64]: Int64] = [:]
  private var series: [ProcessLabels: Int64] = [:]
  private var functionByID: [Int64: AgentFunction] = [:]
  private var stackByID: [Int64: [Int64]] = [:]
  private var seriesByID: [Int64: ProcessLabels] = [:]
  private var nextFunction: Int64
  private var nextStack: Int64
  private var nextSeries: Int64
  private(set) var pending = Pending()
  /// Each live process's labels, read once (again when its comm changes: an exec).
  private var labelsByPid: [Int32: ProcessLabels] = [:]

  init(_ stored: ProfileStore.Interned) {
    for (id, f) in stored.functions {
      functions[f] = id
      functionByID[id] = f
    }
    for (id, s) in stored.stacks {
      stacks[s] = id
      stackByID[id] = s
    }
    for (id, l) in stored.series {
      series[l] = id
      seriesByID[id] = l
    }
    nextFunction = (stored.functions.map(\.0).max() ?? 0) + 1
    nextStack = (stored.stacks.map(\.0).max() ?? 0) + 1
    nextSeries = (stored.series.map(\.0).max() ?? 0) + 1
  }

  /// Hands over what was created since the last call (for the store to insert).
  func takePending() -> Pending {
    defer { pending = Pending() }
    return pending
  }

  /// Puts back rows whose window could not be written, ahead of any made since: the next write inserts them.
  func restorePending(_ rows: Pending) {
    pending.functions = rows.functions + pending.functions
    pending.stacks = rows.stacks + pending.stacks
    pending.series = rows.series + pending.series
  }

  /// Forgets stacks and series the store no longer holds (after retention deleted their windows).
  func forget(stacks goneStacks: Set<Int64>, series goneSeries: Set<Int64>) {
    guard !goneStacks.isEmpty || !goneSeries.isEmpty else { return }
    stacks = stacks.filter { !goneStacks.contains($0.value) }
    series = series.filter { !goneSeries.contains($0.value) }
    for id in goneStacks { stackByID[id] = nil }
    for id in goneSeries { seriesByID[id] = nil }
  }

  /// The labels of series `id`.
  func labels(ofSeries id: Int64) -> ProcessLabels? { seriesByID[id] }

  /// The functions of stack `id`, root first.
  func functions(ofStack id: Int64) -> [AgentFunction]? {
    stackByID[id].map { $0.map { functionByID[$0] ?? AgentFunction(name: "[unknown]", module: "", isKernel: false) } }
  }

  func function(_ f: AgentFunction) -> Int64 {
    if let id = functions[f] { return id }
    let id = nextFunction
    nextFunction += 1
    functions[f] = id
    functionByID[id] = f
    pending.functions.append((id, f))
    return id
  }

  func stack(_ frames: [Int64]) -> Int64 {
    if let id = stacks[frames] { return id }
    let id = nextStack
    nextStack += 1
    stacks[frames] = id
    stackByID[id] = frames
    pending.stacks.append((id, frames))
    return id
  }

  func series(_ labels: ProcessLabels) -> Int64 {
    if let id = series[labels] { return id }
    let id = nextSeries
    nextSeries += 1
    series[labels] = id
    seriesByID[id] = labels
    pending.series.append((id, labels))
    return id
  }

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
      slice.counts[key, default: 0] = slice.counts[key, default: 0].saturatingAdd(entry.count)
    }
    let now = window.accounting
    let before = lostBefore ?? ProfileAccounting()
    slice.samples = now.samples.saturatingSubtracting(before.samples)
    let losses: [(String, UInt64, UInt64)] = [
      ("map_full", now.mapFullDrops, before.mapFullDrops),
      ("stack_collision", now.stackCollisions, before.stackCollisions),
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
