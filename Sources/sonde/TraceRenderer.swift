import PerfEvents
import SondeBPFEngines
import SondeText

/// How `sonde trace` prints: count tables, bpftrace-style histograms, event lines, or JSON of each.
struct TraceRenderer {
  var json: Bool
  var countKey: TraceOptions.CountKey
  var top: Int

  /// A count table (sorted by count), or one JSON object with every row.
  func counts(_ snapshot: TraceSnapshot, final: Bool) -> String {
    let rows = top > 0 ? Array(snapshot.counts.prefix(top)) : snapshot.counts
    if json {
      var object = JSONObject()
      object.add("elapsed_seconds", json: fixed(snapshot.elapsedSeconds, 3))
      object.add("hits", snapshot.accounting.hits)
      object.add("counts", json: jsonArray(rows.map(countJSON)))
      return object.text() + "\n"
    }
    var out = final ? "" : "@ \(fixed(snapshot.elapsedSeconds, 1)) s\n"
    let probes = Set(rows.map(\.probe)).count
    var header: [String] = []
    if countKey != .probe || probes > 1 || rows.isEmpty { header.append("PROBE") }
    switch countKey {
    case .comm: header.append("COMM")
    case .pid: header += ["PID", "COMM"]
    case .tid: header += ["TID", "COMM"]
    case .argument(let n): header.append("ARG\(n)")
    case .returnValue: header.append("RETVAL")
    case .userStack, .kernelStack: header += ["PID", "COMM"]
    case .probe: if !header.contains("PROBE") { header.append("PROBE") }
    }
    var table: [[String]] = []
    for row in rows {
      var cells: [String] = []
      if header.first == "PROBE" { cells.append(row.probe) }
      switch countKey {
      case .comm: cells.append(row.comm)
      case .pid, .tid, .userStack, .kernelStack: cells += [String(row.pid), row.comm]
      case .argument, .returnValue: cells.append(row.value.map(String.init) ?? "")
      case .probe: break
      }
      table.append(cells)
    }
    let widths = header.indices.map { i in max(header[i].count, table.map { $0[i].count }.max() ?? 0) }
    out += zip(header, widths).map { $0.padded(to: $1) }.joined(separator: "  ") + "  COUNT\n"
    for (row, cells) in zip(rows, table) {
      out += zip(cells, widths).map { $0.padded(to: $1) }.joined(separator: "  ") + "  \(row.count)\n"
      if let stack = row.stack { out += stack.map { "    " + $0 + "\n" }.joined() }
    }
    if rows.isEmpty { out += "(no hits)\n" }
    return out
  }

  private func countJSON(_ row: TraceCount) -> String {
    var o = JSONObject()
    o.add("probe", row.probe)
    switch countKey {
    case .comm: o.add("comm", row.comm)
    case .pid, .userStack, .kernelStack:
      o.add("pid", row.pid)
      o.add("comm", row.comm)
    case .tid:
      o.add("tid", row.pid)
      o.add("comm", row.comm)
    case .argument, .returnValue: o.add("value", row.value ?? 0)
    case .probe: break
    }
    if let stack = row.stack { o.add("stack", json: jsonArray(stack.map(jsonString))) }
    o.add("count", row.count)
    return o.text()
  }

  /// Histograms as bpftrace prints them, each with its count, mean and percentiles.
  func histograms(_ snapshot: TraceSnapshot) -> String {
    if json {
      var object = JSONObject()
      object.add("elapsed_seconds", json: fixed(snapshot.elapsedSeconds, 3))
      object.add("histograms", json: jsonArray(snapshot.histograms.map(histogramJSON)))
      return object.text() + "\n"
    }
    if snapshot.histograms.isEmpty { return "(no intervals measured)\n" }
    return snapshot.histograms.map(histogramText).joined(separator: "\n")
  }

  func histogramText(_ h: LatencyHistogram) -> String {
    let unit = h.unit.rawValue
    var out = "@\(h.group.isEmpty ? "" : "[\(h.group)]") (\(unit)):\n"
    let indexes = h.buckets.keys.sorted()
    guard let first = indexes.first, let last = indexes.last else { return out }
    let peak = h.buckets.values.max() ?? 1
    let labels = (first...last).map { bucketLabel(h, $0) }
    let width = labels.map(\.count).max() ?? 0
    for (offset, index) in (first...last).enumerated() {
      let n = h.buckets[index] ?? 0
      let bar = String(repeating: "@", count: Int((Double(n) / Double(peak) * 52).rounded(.down)))
      out +=
        labels[offset].padded(to: width) + " " + String(n).padded(to: 8, alignRight: true) + " |"
        + bar.padded(to: 52) + "|\n"
    }
    let percentiles = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)].map { name, q in
      "\(name) \(bucketLabel(h, h.quantileBucket(q)))"
    }
    out += "count \(h.count), mean \(fixed(h.mean, 3)) \(unit), " + percentiles.joined(separator: ", ") + "\n"
    return out
  }

  func bucketLabel(_ h: LatencyHistogram, _ index: Int) -> String {
    let (lower, upper) = h.range(ofBucket: index)
    if h.linear == nil && index <= 1 { return "[\(index)]" }
    if h.linear != nil && index == 0 { return "(..., \(short(upper ?? lower)))" }
    guard let upper else { return "[\(short(lower)), ...)" }
    return "[\(short(lower)), \(short(upper)))"
  }

  /// 1024 → 1K, as bpftrace's histogram labels.
  func short(_ v: UInt64) -> String {
    let suffixes = ["", "K", "M", "G", "T", "P", "E"]
    var value = v
    var i = 0
    while value >= 1024 && value % 1024 == 0 && i < suffixes.count - 1 {
      value /= 1024
      i += 1
    }
    return "\(value)\(suffixes[i])"
  }

  private func histogramJSON(_ h: LatencyHistogram) -> String {
    var o = JSONObject()
    o.add("group", h.group)
    o.add("unit", h.unit.rawValue)
    o.add("count", h.count)
    o.add("total_ns", h.totalNanoseconds)
    o.add("mean", json: fixed(h.mean, 3))
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
      let (low, high) = h.range(ofBucket: h.quantileBucket(q))
      var p = JSONObject()
      p.add("low", low)
      if let high { p.add("high", high) } else { p.add("high", nil as String?) }
      o.add(name, json: p.text())
    }
    let buckets = h.buckets.keys.sorted().map { index -> String in
      var b = JSONObject()
      let (lower, upper) = h.range(ofBucket: index)
      b.add("low", lower)
      if let upper { b.add("high", upper) } else { b.add("high", nil as String?) }
      b.add("count", h.buckets[index] ?? 0)
      return b.text()
    }
    o.add("buckets", json: jsonArray(buckets))
    return o.text()
  }

  /// One event: a line `TIME CPU PID/TID COMM PROBE name=value…`, or a JSON object.
  func event(_ e: TraceEvent, only: Set<String>?) -> String {
    let fields = e.fields.filter { only == nil || only!.contains($0.name) }
    if json {
      var o = JSONObject()
      o.add("timestamp_ns", e.timestamp)
      o.add("cpu", e.cpu)
      o.add("pid", e.pid)
      o.add("tid", e.tid)
      o.add("comm", e.comm)
      o.add("probe", e.probe)
      var f = JSONObject()
      for (name, value) in fields { f.add(name, json: Self.json(value)) }
      o.add("fields", json: f.text())
      return o.text() + "\n"
    }
    let time = fixed(Double(e.timestamp) / 1e9, 6)
    let values = fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    return "\(time) [\(e.cpu)] \(e.pid)/\(e.tid) \(e.comm) \(e.probe) \(values)\n"
  }

  static func json(_ value: TracepointFormat.Value) -> String {
    switch value {
    case .signed(let v): String(v)
    case .unsigned(let v): String(v)
    case .pointer(let v): jsonString("0x" + String(v, radix: 16))
    case .string(let s): jsonString(s)
    case .integers(let list): "[" + list.map(String.init).joined(separator: ",") + "]"
    case .missing: "null"
    }
  }
}
