import SondeText

/// `--plot`: a static SVG bar chart of the benchmark, one panel per workload and frequency. Each
/// configuration gets two horizontal bars, its median cost above the floor (points of throughput) and its
/// profiler's own CPU (percent of one core), each with a line from the smallest to the largest round.
public enum OverheadChart {
  static let width = 960.0
  static let labelWidth = 230.0
  static let rowHeight = 30.0
  static let panelGap = 56.0

  public static func render(_ report: OverheadReport) -> String {
    struct Panel: Hashable {
      var workload: BenchWorkload
      var frequency: UInt64
    }
    var panels: [Panel] = []
    for row in report.rows where !panels.contains(Panel(workload: row.workload, frequency: row.frequency)) {
      panels.append(Panel(workload: row.workload, frequency: row.frequency))
    }
    var body = ""
    var y = 70.0
    for panel in panels {
      let rows = report.rows.filter {
        $0.workload == panel.workload && $0.frequency == panel.frequency && $0.configuration != .baseline
      }
      body += self.panel(rows, title: "\(panel.workload.rawValue) workload at \(panel.frequency) Hz", top: y)
      y += Double(rows.count) * rowHeight + panelGap
    }
    let height = Int(y)
    return """
      <?xml version="1.0" standalone="no"?>
      <svg version="1.1" width="\(Int(width))" height="\(height)" viewBox="0 0 \(Int(width)) \(height)" xmlns="http://www.w3.org/2000/svg" font-family="Verdana, sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="#fff"/>
      <text x="\(Int(width / 2))" y="24" text-anchor="middle" font-size="17">sonde bench overhead</text>
      <text x="\(Int(width / 2))" y="44" text-anchor="middle" fill="#555">\(xmlEscape(report.machine)); median of \(report.options.rounds) rounds of \(fixed(report.options.duration, 1)) s; lines span min to max</text>
      <rect x="\(Int(labelWidth))" y="52" width="12" height="10" fill="#3b6fb6"/><text x="\(Int(labelWidth) + 16)" y="61">cost above the floor (points of throughput)</text>
      <rect x="\(Int(labelWidth) + 330)" y="52" width="12" height="10" fill="#e0912f"/><text x="\(Int(labelWidth) + 346)" y="61">profiler CPU (% of one core)</text>
      \(body)</svg>

      """
  }

  private static func panel(_ rows: [OverheadRow], title: String, top: Double) -> String {
    let values = rows.flatMap { row in
      [row.aboveFloorPoints, row.profilerCPUPercent].compactMap { $0 }.flatMap { [$0.min, $0.max] }
    }
    let low = min(0, values.min() ?? 0)
    let high = max(low + 0.1, values.max() ?? 1)
    let plotWidth = width - labelWidth - 40
    func x(_ v: Double) -> Double { labelWidth + (v - low) / (high - low) * plotWidth }
    var out = "<text x=\"10\" y=\"\(fixed(top + 14, 1))\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
    let axisTop = top + 20
    let axisBottom = axisTop + Double(rows.count) * rowHeight
    out += line(x(0), axisTop, x(0), axisBottom, color: "#888")
    out += "<text x=\"\(fixed(x(high), 1))\" y=\"\(fixed(axisBottom + 14, 1))\" text-anchor=\"end\" fill=\"#555\">"
    out += "\(fixed(high, 2))</text>\n"
    for (i, row) in rows.enumerated() {
      let rowTop = axisTop + Double(i) * rowHeight
      out += "<text x=\"\(fixed(labelWidth - 8, 1))\" y=\"\(fixed(rowTop + 18, 1))\" text-anchor=\"end\">"
      out += "\(xmlEscape(row.configuration.rawValue))</text>\n"
      for (offset, spread, color) in [
        (3.0, row.aboveFloorPoints, "#3b6fb6"), (15.0, row.profilerCPUPercent, "#e0912f"),
      ] {
        guard let spread else { continue }
        let a = x(min(0, spread.median))
        let b = x(max(0, spread.median))
        out += "<rect x=\"\(fixed(a, 1))\" y=\"\(fixed(rowTop + offset, 1))\" width=\"\(fixed(max(1, b - a), 1))\" "
        out += "height=\"10\" fill=\"\(color)\"><title>\(fixed(spread.median, 3)) (\(fixed(spread.min, 3)) to "
        out += "\(fixed(spread.max, 3)))</title></rect>\n"
        out += line(x(spread.min), rowTop + offset + 5, x(spread.max), rowTop + offset + 5, color: "#222")
        out += "<text x=\"\(fixed(x(max(spread.max, spread.median)) + 4, 1))\" y=\"\(fixed(rowTop + offset + 9, 1))\" "
        out += "font-size=\"10\" fill=\"#333\">\(fixed(spread.median, 2))</text>\n"
      }
    }
    return out
  }

  private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String) -> String {
    "<line x1=\"\(fixed(x1, 1))\" y1=\"\(fixed(y1, 1))\" x2=\"\(fixed(x2, 1))\" y2=\"\(fixed(y2, 1))\" stroke=\"\(color)\"/>\n"
  }
}
