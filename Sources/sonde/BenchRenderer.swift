import SondeBench
import SondeText

/// Text and JSON output of `sonde bench overhead`.
enum BenchRenderer {
  /// One line per measurement, on stderr while the benchmark runs.
  static func progress(_ run: OverheadRun) -> String {
    var line = "\(run.workload.rawValue) \(run.frequency) Hz round \(run.round) \(run.configuration.rawValue): "
    if let failure = run.failure { return line + "failed: " + failure }
    line += "\(fixed(run.throughput, 0)) units/s (steal \(fixed(run.stealPercent, 1))%)"
    if let cpu = run.profilerCPUNanoseconds {
      line +=
        ", profiler CPU \(fixed(OverheadStatistics.percentOfCore(nanoseconds: cpu, seconds: run.windowSeconds), 3))%"
    }
    if let samples = run.samples { line += ", \(samples) samples" }
    if let lost = run.lost, lost > 0 { line += ", \(lost) lost" }
    return line
  }

  /// A table per workload and frequency: medians, with the spread (min to max over rounds) of the figures
  /// that decide between designs. Markdown tables, padded so they read as well in a terminal as in
  /// BENCHMARKS.md.
  static func tables(_ report: OverheadReport) -> String {
    var out = "sonde bench overhead: \(report.machine).\n"
    out += "\(report.options.rounds) interleaved rounds of \(fixed(report.options.duration, 1)) s per configuration; "
    out += "medians, [min, max] over rounds; units/s per CPU-second left after steal\n"
    for (name, reason) in report.skipped.sorted(by: { $0.key < $1.key }) { out += "Skipped \(name): \(reason).\n" }
    var seen: [(BenchWorkload, UInt64)] = []
    for row in report.rows where !seen.contains(where: { $0 == (row.workload, row.frequency) }) {
      seen.append((row.workload, row.frequency))
    }
    let header = [
      "configuration", "units/s", "steal %", "loss %", "above floor", "profiler CPU %", "BPF CPU %", "ns/run",
      "samples",
      "lost", "MB to user", "samples/key", "RSS MB",
    ]
    for (workload, frequency) in seen {
      out += "\n**\(workload.rawValue) workload, \(frequency) Hz**\n\n"
      var table = [header]
      for row in report.rows where row.workload == workload && row.frequency == frequency {
        table.append(cells(row))
      }
      out += columns(table)
    }
    return out
  }

  static func cells(_ row: OverheadRow) -> [String] {
    func spread(_ s: Spread?, _ digits: Int) -> String {
      guard let s else { return "-" }
      return "\(fixed(s.median, digits)) [\(fixed(s.min, digits)), \(fixed(s.max, digits))]"
    }
    func number(_ v: Double?, _ digits: Int) -> String { v.map { fixed($0, digits) } ?? "-" }
    var name = row.configuration.rawValue
    if row.failedRounds > 0 { name += " (\(row.failedRounds) failed)" }
    return [
      name, number(row.throughput?.median, 0), number(row.stealPercent?.median, 1), spread(row.lossPercent, 2),
      spread(row.aboveFloorPoints, 2),
      spread(row.profilerCPUPercent, 3), spread(row.bpfCPUPercent, 3), number(row.bpfNanosecondsPerRun, 0),
      number(row.samples, 0), number(row.lost, 0), number(row.bytesFromKernel.map { $0 / 1e6 }, 2),
      number(row.aggregationRatio, 1), number(row.peakResidentBytes.map { Double($0) / 1e6 }, 1),
    ]
  }

  /// A Markdown table: the first row is the header; left-aligned first column, right-aligned numbers.
  private static func columns(_ rows: [[String]]) -> String {
    let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |\n" }
    var out = ""
    for (i, row) in rows.enumerated() {
      out += line(row.enumerated().map { c, cell in cell.padded(to: widths[c], alignRight: c > 0) })
      if i == 0 {
        out += line(
          widths.enumerated().map { c, w in
            c == 0 ? String(repeating: "-", count: w) : String(repeating: "-", count: max(1, w - 1)) + ":"
          })
      }
    }
    return out
  }

  static func json(_ report: OverheadReport) -> String {
    var o = JSONObject()
    o.add("machine", report.machine)
    var options = JSONObject()
    options.add("frequencies", json: jsonArray(report.options.frequencies.map { "\($0)" }))
    options.add("rounds", report.options.rounds)
    options.add("duration_seconds", json: fixed(report.options.duration, 3))
    options.add("settle_seconds", json: fixed(report.options.settle, 3))
    options.add("workloads", json: jsonArray(report.options.workloads.map { jsonString($0.rawValue) }))
    o.add("options", json: options.text())
    var skipped = JSONObject()
    for (name, reason) in report.skipped.sorted(by: { $0.key < $1.key }) { skipped.add(name, reason) }
    o.add("skipped", json: skipped.text())
    o.add("warnings", json: jsonArray(report.warnings.map(jsonString)))
    o.add("configurations", json: jsonArray(report.rows.map(rowJSON), pretty: true))
    o.add("runs", json: jsonArray(report.runs.map(runJSON), pretty: true))
    return o.text()
  }

  private static func rowJSON(_ row: OverheadRow) -> String {
    var o = JSONObject()
    o.add("configuration", row.configuration.rawValue)
    o.add("command", row.configuration.title)
    o.add("workload", row.workload.rawValue)
    o.add("frequency", row.frequency)
    o.add("rounds", row.rounds)
    o.add("failed_rounds", row.failedRounds)
    o.add("throughput", json: spreadJSON(row.throughput))
    o.add("steal_percent", json: spreadJSON(row.stealPercent))
    o.add("loss_percent", json: spreadJSON(row.lossPercent))
    o.add("above_floor_points", json: spreadJSON(row.aboveFloorPoints))
    o.add("profiler_cpu_percent", json: spreadJSON(row.profilerCPUPercent))
    o.add("bpf_cpu_percent", json: spreadJSON(row.bpfCPUPercent))
    o.add("bpf_ns_per_run", json: numberJSON(row.bpfNanosecondsPerRun))
    o.add("samples", json: numberJSON(row.samples))
    o.add("lost", json: numberJSON(row.lost))
    o.add("bytes_from_kernel", json: numberJSON(row.bytesFromKernel))
    o.add("aggregation_ratio", json: numberJSON(row.aggregationRatio))
    o.add("peak_rss_bytes", json: row.peakResidentBytes.map { "\($0)" } ?? "null")
    return o.text()
  }

  private static func runJSON(_ run: OverheadRun) -> String {
    var o = JSONObject()
    o.add("configuration", run.configuration.rawValue)
    o.add("workload", run.workload.rawValue)
    o.add("frequency", run.frequency)
    o.add("round", run.round)
    o.add("units", run.units)
    o.add("workload_seconds", json: fixed(run.workloadSeconds, 6))
    o.add("window_seconds", json: fixed(run.windowSeconds, 6))
    o.add("throughput", json: fixed(run.throughput, 3))
    o.add("raw_throughput", json: fixed(run.rawThroughput, 3))
    o.add("cpus", run.cpus)
    o.add("steal_seconds", json: fixed(run.stealSeconds, 3))
    o.add("profiler_cpu_ns", json: run.profilerCPUNanoseconds.map { "\($0)" } ?? "null")
    o.add("bpf_run_ns", json: run.bpf.map { "\($0.runNanoseconds)" } ?? "null")
    o.add("bpf_run_count", json: run.bpf.map { "\($0.runCount)" } ?? "null")
    o.add("samples", json: run.samples.map { "\($0)" } ?? "null")
    o.add("lost", json: run.lost.map { "\($0)" } ?? "null")
    o.add("bytes_from_kernel", json: run.bytesFromKernel.map { "\($0)" } ?? "null")
    o.add("aggregation_ratio", json: numberJSON(run.aggregationRatio))
    o.add("peak_rss_bytes", json: run.peakResidentBytes.map { "\($0)" } ?? "null")
    o.add("failure", run.failure)
    return o.text()
  }

  private static func spreadJSON(_ s: Spread?) -> String {
    guard let s else { return "null" }
    var o = JSONObject()
    o.add("median", json: fixed(s.median, 4))
    o.add("min", json: fixed(s.min, 4))
    o.add("max", json: fixed(s.max, 4))
    return o.text()
  }

  private static func numberJSON(_ v: Double?) -> String { v.map { fixed($0, 4) } ?? "null" }
}
