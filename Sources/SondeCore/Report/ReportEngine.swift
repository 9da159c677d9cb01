import PerfEvents
import Profiles

/// Columns a report can group by (perf report --sort keys).
public enum ReportSortKey: String, Sendable, CaseIterable {
  case comm, dso, symbol, pid, tid

  /// Parses perf's names (sym, symbol, dso, comm, pid, tid).
  public static func parse(_ text: String) -> ReportSortKey? {
    switch text {
    case "sym", "symbol": .symbol
    case "dso", "shared_object": .dso
    case "comm", "command": .comm
    case "pid": .pid
    case "tid": .tid
    default: nil
    }
  }
}

/// Which way call graphs read.
public enum CallGraphOrder: String, Sendable {
  /// From the entry down to the functions it was called from (leaf first; perf's default with --no-children).
  case callee
  /// From the outermost caller down to the entry.
  case caller
}

/// What `sonde report` should compute.
public struct ReportOptions: Sendable {
  public var sortKeys: [ReportSortKey] = [.comm, .dso, .symbol]
  /// Also attribute each sample to every caller (perf's --children).
  public var children = false
  public var callGraph: CallGraphOrder?
  /// Rows to keep (nil: all).
  public var limit: Int?
  /// Weigh samples by their period (perf's default) rather than counting them.
  public var useWeight = true

  public init() {}
}

/// A node of a row's call graph.
public struct CallTreeNode: Sendable {
  public var frame: ResolvedFrame
  public var weight: UInt64
  public var children: [CallTreeNode]
}

/// One line of the report.
public struct ReportRow: Sendable {
  public var comm: String
  public var dso: String
  public var symbol: String
  public var isKernel: Bool
  public var pid: Int32
  public var tid: Int32
  public var selfWeight: UInt64
  public var childrenWeight: UInt64
  public var samples: UInt64
  public var selfPercent: Double
  public var childrenPercent: Double
  /// The call graph, when requested, rooted at this row's frame.
  public var callTree: CallTreeNode?
}

/// The computed report.
public struct Report: Sendable {
  public var eventName: String
  public var samples: UInt64
  public var totalWeight: UInt64
  public var lost: UInt64
  public var dropped: UInt64
  public var rows: [ReportRow]
  public var options: ReportOptions
}

/// The engine behind `sonde report`: groups a symbolized profile by the sort keys, with self and
/// children overheads as perf computes them, and optional call graphs.
///
/// It works on the profile's tables: a row is a (thread key, function key) pair of integer ids, where the
/// thread key holds the thread-level sort keys (comm, pid, tid) and the function key the frame-level ones
/// (dso, symbol), each interned once per thread or function. Entries (distinct stack and thread) are visited
/// once, not samples, and no string is hashed per frame.
public enum ReportEngine {
  public static func report(_ profile: ResolvedProfile, options: ReportOptions) -> Report {
    let source = profile.source
    let keys = Set(options.sortKeys)
    // Thread-level part of a row's key, per thread.
    struct ThreadKey: Hashable {
      var comm: Int32 = -1
      var pid: Int32 = 0
      var tid: Int32 = 0
    }
    var threadKeyIndex: [ThreadKey: Int32] = [:]
    let threadKey: [Int32] = source.threads.indices.map { t in
      var k = ThreadKey()
      if keys.contains(.comm) { k.comm = profile.commOfThread[t] }
      if keys.contains(.pid) { k.pid = source.threads[t].pid }
      if keys.contains(.tid) { k.tid = source.threads[t].tid }
      if let id = threadKeyIndex[k] { return id }
      let id = Int32(threadKeyIndex.count)
      threadKeyIndex[k] = id
      return id
    }
    // Frame-level part of a row's key, per function.
    let functionKey = internedKeys(profile.functions) { f in
      (keys.contains(.dso) ? f.module : "", keys.contains(.symbol) ? f.name : "")
    }
    struct Accum {
      var selfWeight: UInt64 = 0
      var childrenWeight: UInt64 = 0
      var samples: UInt64 = 0
      /// The location and thread that first made the row: they name it.
      var location: UInt32
      var thread: Int
      var contributors: [(entry: Int, index: Int)] = []
      /// The last entry that added children weight (each entry counts once per row).
      var lastEntry = -1
    }
    var rowIndex: [UInt64: Int] = [:]
    var rows: [Accum] = []
    func row(_ location: UInt32, _ thread: Int) -> Int {
      let f = functionKey[Int(profile.functionOfLocation[Int(location)])]
      let key = UInt64(UInt32(bitPattern: threadKey[thread])) << 32 | UInt64(UInt32(bitPattern: f))
      if let r = rowIndex[key] { return r }
      rowIndex[key] = rows.count
      rows.append(Accum(location: location, thread: thread))
      return rows.count - 1
    }
    var total: UInt64 = 0
    for (e, entry) in source.entries.enumerated() {
      let w = options.useWeight ? entry.weight : entry.count
      total +|= w
      let stack = source.stack(entry.stack)
      guard let leaf = stack.first else { continue }
      let leafRow = row(leaf, entry.thread)
      rows[leafRow].selfWeight +|= w
      rows[leafRow].samples +|= entry.count
      if options.children {
        for (j, location) in stack.enumerated() {
          let r = row(location, entry.thread)
          guard rows[r].lastEntry != e else { continue }
          rows[r].lastEntry = e
          rows[r].childrenWeight +|= w
          if options.callGraph != nil { rows[r].contributors.append((e, j)) }
        }
      } else if options.callGraph != nil {
        rows[leafRow].contributors.append((e, 0))
      }
    }
    let denominator = Double(max(total, 1))
    let mergeKey = internedKeys(profile.functions) { ($0.module, $0.name) }
    var out: [ReportRow] = rows.map { a in
      let childrenWeight = options.children ? a.childrenWeight : a.selfWeight
      let frame = profile.frames[Int(a.location)]
      let thread = source.threads[a.thread]
      var row = ReportRow(
        comm: thread.comm, dso: frame.module, symbol: frame.name, isKernel: frame.isKernel,
        pid: thread.pid, tid: thread.tid, selfWeight: a.selfWeight, childrenWeight: childrenWeight,
        samples: a.samples, selfPercent: Double(a.selfWeight) * 100 / denominator,
        childrenPercent: Double(childrenWeight) * 100 / denominator, callTree: nil)
      if let order = options.callGraph {
        row.callTree = tree(
          profile, a.contributors, order: order, useWeight: options.useWeight, root: frame, mergeKey: mergeKey)
      }
      return row
    }
    out.sort {
      let a = options.children ? $0.childrenWeight : $0.selfWeight
      let b = options.children ? $1.childrenWeight : $1.selfWeight
      if a != b { return a > b }
      // Ties break on the sort keys in order, as perf's hist entries do.
      for k in options.sortKeys {
        let (x, y): (String, String)
        switch k {
        case .comm: (x, y) = ($0.comm, $1.comm)
        case .dso: (x, y) = ($0.dso, $1.dso)
        case .symbol: (x, y) = ($0.symbol, $1.symbol)
        case .pid: if $0.pid != $1.pid { return $0.pid < $1.pid } else { continue }
        case .tid: if $0.tid != $1.tid { return $0.tid < $1.tid } else { continue }
        }
        if x != y { return x < y }
      }
      return false
    }
    if let limit = options.limit { out = Array(out.prefix(limit)) }
    return Report(
      eventName: source.eventName, samples: source.sampleCount, totalWeight: total, lost: source.lost,
      dropped: source.dropped, rows: out, options: options)
  }

  /// Interns a pair of strings per function: functions with equal pairs get equal ids.
  static func internedKeys(_ functions: [ResolvedFunction], _ pair: (ResolvedFunction) -> (String, String)) -> [Int32] {
    struct Pair: Hashable {
      var first: String
      var second: String
    }
    var index: [Pair: Int32] = [:]
    return functions.map { f in
      let (a, b) = pair(f)
      let key = Pair(first: a, second: b)
      if let id = index[key] { return id }
      let id = Int32(index.count)
      index[key] = id
      return id
    }
  }

  /// Merges the paths through a row's frame. Callee order: rooted at the frame, branching towards main
  /// (the frame's callers, nearest first). Caller order: a virtual root (empty name) whose branches run
  /// from the outermost caller down to the frame. Frames merge by name and module (`mergeKey`), not call site.
  /// A contributor is an entry and the frame's index in its stack (leaf first).
  static func tree(
    _ profile: ResolvedProfile, _ contributors: [(entry: Int, index: Int)], order: CallGraphOrder, useWeight: Bool,
    root: ResolvedFrame, mergeKey: [Int32]
  ) -> CallTreeNode {
    final class Node {
      var frame: ResolvedFrame
      var weight: UInt64 = 0
      var children: [Int32: Node] = [:]
      var order: [Int32] = []
      init(_ f: ResolvedFrame) { frame = f }
    }
    let source = profile.source
    let top = Node(order == .callee ? root : ResolvedFrame(name: "", module: "", isKernel: false))
    for (e, j) in contributors {
      let entry = source.entries[e]
      let w = useWeight ? entry.weight : entry.count
      top.weight +|= w
      let stack = source.stack(entry.stack)
      let base = stack.startIndex
      // Callee order walks the callers nearest first; caller order from the outermost caller to the frame.
      let path: [Int] =
        order == .callee ? Array((base + j + 1)..<stack.endIndex) : Array((base + j..<stack.endIndex).reversed())
      var node = top
      for position in path {
        let location = Int(stack[position])
        let key = mergeKey[Int(profile.functionOfLocation[location])]
        if let c = node.children[key] {
          node = c
        } else {
          let c = Node(profile.frames[location])
          node.children[key] = c
          node.order.append(key)
          node = c
        }
        node.weight +|= w
      }
    }
    func convert(_ n: Node) -> CallTreeNode {
      let kids = n.order.compactMap { n.children[$0] }.map(convert).sorted { $0.weight > $1.weight }
      return CallTreeNode(frame: n.frame, weight: n.weight, children: kids)
    }
    return convert(top)
  }
}
