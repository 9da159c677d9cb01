import Profiles
import SondeCore
import SondeText

/// Renders a `Report` the way `perf report --stdio` lays it out.
enum ReportRenderer {
  static func render(_ report: Report, session: ReportSession) -> String {
    var out = "# sonde report of \(session.file.path)\n#\n"
    out += "# Total Lost Samples: \(report.lost)\n#\n"
    out += "# Samples: \(report.samples)  of event '\(report.eventName)'\n"
    out += "# Event count (approx.): \(report.totalWeight)\n#\n"
    let keys = report.options.sortKeys
    func cell(_ row: ReportRow, _ k: ReportSortKey) -> String {
      switch k {
      case .comm: row.comm
      case .dso: row.dso
      case .symbol: "[\(row.isKernel ? "k" : ".")] \(row.symbol)"
      case .pid: String(row.pid)
      case .tid: String(row.tid)
      }
    }
    func title(_ k: ReportSortKey) -> String {
      switch k {
      case .comm: "Command"
      case .dso: "Shared Object"
      case .symbol: "Symbol"
      case .pid: "Pid"
      case .tid: "Tid"
      }
    }
    var widths = keys.map { title($0).count }
    for row in report.rows {
      for (i, k) in keys.enumerated() { widths[i] = max(widths[i], cell(row, k).count) }
    }
    let percentHeader = report.options.children ? "# Children      Self  " : "# Overhead  "
    let percentDots = report.options.children ? "# ........  ........  " : "# ........  "
    out +=
      percentHeader + keys.enumerated().map { i, k in title(k).padded(to: widths[i]) }.joined(separator: "  ") + "\n"
    out +=
      percentDots + keys.enumerated().map { i, _ in String(repeating: ".", count: widths[i]) }.joined(separator: "  ")
      + "\n#\n"
    let total = Double(max(report.totalWeight, 1))
    for row in report.rows {
      var line = ""
      if report.options.children {
        line += (fixed(row.childrenPercent, 2) + "%").padded(to: 10, alignRight: true) + "  "
        line += (fixed(row.selfPercent, 2) + "%").padded(to: 8, alignRight: true) + "  "
      } else {
        line += (fixed(row.selfPercent, 2) + "%").padded(to: 10, alignRight: true) + "  "
      }
      line += keys.enumerated().map { i, k in cell(row, k).padded(to: widths[i]) }.joined(separator: "  ")
      out += trimRight(line) + "\n"
      if let tree = row.callTree {
        out += renderTree(tree, total: total, indent: report.options.children ? 22 : 12)
        out += "\n"
      }
    }
    if report.lost > 0 || report.dropped > 0 {
      out += "#\n# Warning: \(report.lost) samples lost, \(report.dropped) dropped\n"
    }
    return out
  }

  /// Branches below this share of all samples are not drawn (perf's default `-g graph,0.5`): a file of
  /// thousands of distinct chains must not print a tree for each.
  static let branchThresholdPercent = 0.5

  /// perf's graph layout: `---root` then branches `|--NN.NN%--frame`, chains continuing underneath.
  static func renderTree(_ tree: CallTreeNode, total: Double, indent: Int) -> String {
    // A caller-order tree has a virtual root; with a single outermost caller, start the chain there.
    var root = tree
    if root.frame.name.isEmpty && root.children.count == 1 { root = root.children[0] }
    var out = String(repeating: " ", count: indent) + "|\n"
    if !root.frame.name.isEmpty { out += String(repeating: " ", count: indent) + "---" + root.frame.name + "\n" }
    func walk(_ node: CallTreeNode, _ prefix: String) {
      var n = node
      // A single child carrying all the weight continues the chain on the same column.
      while n.children.count == 1 && n.children[0].weight == n.weight {
        n = n.children[0]
        out += prefix + "   " + n.frame.name + "\n"
      }
      let shown = n.children.filter { Double($0.weight) * 100 / total >= branchThresholdPercent }
      guard !shown.isEmpty else { return }
      for (i, child) in shown.enumerated() {
        let pct = fixed(Double(child.weight) * 100 / total, 2) + "%"
        let label = "|--\(pct)--"
        out += prefix + "   " + label + child.frame.name + "\n"
        let last = i == shown.count - 1
        // Continuation lines print at prefix + 3, so this lines them up under the child's name.
        let continuation = prefix + "   " + (last ? " " : "|") + String(repeating: " ", count: label.count - 4)
        walk(child, continuation)
        if !last { out += prefix + "   |\n" }
      }
    }
    walk(root, String(repeating: " ", count: indent))
    return out
  }

  static func trimRight(_ s: String) -> String {
    var t = s
    while t.last == " " { t.removeLast() }
    return t
  }
}
