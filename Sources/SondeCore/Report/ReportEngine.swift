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
public enum ReportEngine {
  public static func report(_ profile: ResolvedProfile, options: ReportOptions) -> Report {
    struct Key: Hashable {
      var comm = ""
      var dso = ""
      var symbol = ""
      var pid: Int32 = 0
      var tid: Int32 = 0
    }
    func key(_ s: ResolvedProfile.Sample, _ f: ResolvedFrame) -> Key {
      var k = Key()
      for sk in options.sortKeys {
        switch sk {
        case .comm: k.comm = s.thread.comm
        case .dso: k.dso = f.module
        case .symbol: k.symbol = f.name
        case .pid: k.pid = s.thread.pid
        case .tid: k.tid = s.thread.tid
        }
      }
      return k
    }
    struct Accum {
      var selfWeight: UInt64 = 0
      var childrenWeight: UInt64 = 0
      var samples: UInt64 = 0
      var frame: ResolvedFrame
      var thread: Profile.Thread
      var contributors: [(sample: Int, index: Int)] = []
    }
    var rows: [Key: Accum] = [:]
    var total: UInt64 = 0
    for (si, s) in profile.samples.enumerated() {
      let w = options.useWeight ? s.weight : s.count
      total +|= w
      guard let leaf = s.frames.last else { continue }
      let leafKey = key(s, leaf)
      rows[leafKey, default: Accum(frame: leaf, thread: s.thread)].selfWeight +|= w
      rows[leafKey, default: Accum(frame: leaf, thread: s.thread)].samples +|= s.count
      if options.children {
        var seen = Set<Key>()
        for (i, f) in s.frames.enumerated().reversed() {
          let k = key(s, f)
          if seen.insert(k).inserted {
            rows[k, default: Accum(frame: f, thread: s.thread)].childrenWeight +|= w
            if options.callGraph != nil {
              rows[k, default: Accum(frame: f, thread: s.thread)].contributors.append((si, i))
            }
          }
        }
      } else if options.callGraph != nil {
        rows[leafKey, default: Accum(frame: leaf, thread: s.thread)].contributors.append((si, s.frames.count - 1))
      }
    }
    let denominator = Double(max(total, 1))
    var out: [ReportRow] = rows.map { k, a in
      let childrenWeight = options.children ? a.childrenWeight : a.selfWeight
      var row = ReportRow(
        comm: a.thread.comm, dso: a.frame.module, symbol: a.frame.name, isKernel: a.frame.isKernel,
        pid: a.thread.pid, tid: a.thread.tid, selfWeight: a.selfWeight, childrenWeight: childrenWeight,
        samples: a.samples, selfPercent: Double(a.selfWeight) * 100 / denominator,
        childrenPercent: Double(childrenWeight) * 100 / denominator, callTree: nil)
      _ = k
      if let order = options.callGraph {
        row.callTree = tree(profile, a.contributors, order: order, useWeight: options.useWeight, root: a.frame)
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
    let source = profile.source
    return Report(
      eventName: source.eventName, samples: source.sampleCount, totalWeight: total, lost: source.lost,
      dropped: source.dropped, rows: out, options: options)
  }

  /// Merges the paths through a row's frame. Callee order: rooted at the frame, branching towards main
  /// (the frame's callers, nearest first). Caller order: a virtual root (empty name) whose branches run
  /// from the outermost caller down to the frame. Frames merge by name and module, not call site.
  static func tree(
    _ profile: ResolvedProfile, _ contributors: [(sample: Int, index: Int)], order: CallGraphOrder, useWeight: Bool,
    root: ResolvedFrame
  ) -> CallTreeNode {
    final class Node {
      var frame: ResolvedFrame
      var weight: UInt64 = 0
      var children: [String: Node] = [:]
      var order: [String] = []
      init(_ f: ResolvedFrame) { frame = f }
    }
    let top = Node(order == .callee ? root : ResolvedFrame(name: "", module: "", isKernel: false))
    for (si, i) in contributors {
      let s = profile.samples[si]
      let w = useWeight ? s.weight : s.count
      top.weight +|= w
      let path: ArraySlice<ResolvedFrame> =
        order == .callee ? ArraySlice(s.frames[0..<i].reversed()) : s.frames[0...i]
      var node = top
      for f in path {
        let key = f.name + "\u{0}" + f.module
        if let c = node.children[key] {
          node = c
        } else {
          let c = Node(f)
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
