import Profiles
import SondeBPFEngines
import SondeCore
import SondeText

/// Text output of `sonde profile`: the top-N functions and the run's accounting.
enum ProfileSummary {
  /// The functions with the most samples with their callees (then in their own bodies), as perf report
  /// --children orders them: callers such as demo_hot rank by what runs under them.
  static func topTable(_ run: ProfileRun, rows: Int) -> String {
    var options = ReportOptions()
    options.sortKeys = [.dso, .symbol]
    options.children = true
    let report = ReportEngine.report(run.resolved, options: options)
    var out =
      run.profile.eventName == "offcpu-time"
      ? "# sonde profile: \(fixed(Double(report.totalWeight) / 1e9, 3)) s blocked in \(report.samples) waits over "
        + "\(fixed(run.durationSeconds, 1)) s\n"
      : "# sonde profile: \(report.samples) samples of cpu-clock over \(fixed(run.durationSeconds, 1)) s\n"
    out += "#\n#  Children      Self  Shared Object         Symbol\n"
    let ordered = report.rows.sorted {
      ($0.childrenWeight, $0.selfWeight) > ($1.childrenWeight, $1.selfWeight)
    }
    for row in ordered.prefix(rows) {
      var line = (fixed(row.childrenPercent, 2) + "%").padded(to: 11, alignRight: true) + "  "
      line += (fixed(row.selfPercent, 2) + "%").padded(to: 8, alignRight: true) + "  "
      line += row.dso.padded(to: 20) + "  [\(row.isKernel ? "k" : ".")] " + row.symbol
      out += line + "\n"
    }
    return out
  }

  /// The run's accounting as one flat JSON object (`--accounting`): totals first (lost = samples dropped
  /// plus samples without their stack), then each count as the summary lines name it.
  static func accountingJSON(_ run: ProfileRun) -> String {
    let a = run.accounting
    var o = JSONObject()
    o.add("samples", a.samples)
    o.add("drained_samples", a.drainedSamples)
    o.add("lost", a.droppedSamples.saturatingAdd(a.lostStacks))
    o.add("dropped_samples", a.droppedSamples)
    o.add("lost_stacks", a.lostStacks)
    o.add("bytes_from_kernel", a.bytesFromKernel)
    o.add("drains", a.drains.count)
    o.add("aggregation_ratio", json: fixed(a.aggregationRatio, 3))
    o.add("duration_seconds", json: fixed(run.durationSeconds, 3))
    o.add("stack_collisions", a.stackCollisions)
    o.add("stack_map_full", a.stackMapFull)
    o.add("stack_errors", a.stackErrors)
    o.add("map_full_drops", a.mapFullDrops)
    o.add("ringbuf_drops", a.ringbufDrops)
    o.add("lost_records", a.lostRecords)
    o.add("undecodable_records", a.undecodableRecords)
    o.add("missing_stacks", a.missingStacks)
    o.add("pid_event_drops", a.pidEventDrops)
    o.add("unsymbolized_processes", a.unsymbolizedProcesses)
    o.add("unsymbolized_samples", a.unsymbolizedSamples)
    for (reason, n) in a.unwindStops.sorted(by: { $0.key < $1.key }) {
      o.add("unwind_" + reason.split(separator: " ").joined(separator: "_"), n)
    }
    return o.text()
  }

  /// What was sampled and everything lost, one line each (always printed, so a gap is never silent).
  static func lines(_ run: ProfileRun) -> [String] {
    let a = run.accounting
    var lines = [
      "\(a.samples) samples taken, \(a.drainedSamples) drained in \(a.drains.count) drains "
        + "(aggregation \(fixed(a.aggregationRatio, 1)) samples per key), \(a.bytesFromKernel) bytes read from the kernel"
    ]
    var lost: [String] = []
    if a.stackCollisions > 0 { lost.append("\(a.stackCollisions) stacks lost to stack-map collisions (-EEXIST)") }
    if a.stackMapFull > 0 {
      lost.append("\(a.stackMapFull) stacks dropped: stack map full (raise --stack-map-size)")
    }
    if a.stackErrors > 0 { lost.append("\(a.stackErrors) stacks unreadable (-EFAULT)") }
    if a.mapFullDrops > 0 { lost.append("\(a.mapFullDrops) samples dropped: counts map full (raise --map-size)") }
    if a.ringbufDrops > 0 { lost.append("\(a.ringbufDrops) samples dropped: ringbuf full (raise --ringbuf-size)") }
    if a.lostRecords > 0 { lost.append("\(a.lostRecords) samples lost: perf ring full") }
    if a.undecodableRecords > 0 { lost.append("\(a.undecodableRecords) ring records did not decode") }
    if a.missingStacks > 0 { lost.append("\(a.missingStacks) samples whose stacks were gone at the drain") }
    if a.shortBlocks > 0 { lost.append("\(a.shortBlocks) waits shorter than --min-block left out") }
    if a.blockedThreadDrops > 0 { lost.append("\(a.blockedThreadDrops) waits lost: blocked-thread map full") }
    if a.pidEventDrops > 0 { lost.append("\(a.pidEventDrops) process announcements retried (ringbuf full)") }
    if a.unsymbolizedProcesses > 0 {
      lost.append(
        "\(a.unsymbolizedSamples) samples of \(a.unsymbolizedProcesses) processes that exited before their mappings were read"
      )
    }
    lines.append(lost.isEmpty ? "nothing lost" : "lost: " + lost.joined(separator: "; "))
    if !a.unwindStops.isEmpty {
      let stops = a.unwindStops.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }
      lines.append("dwarf unwinds ended: " + stops.joined(separator: ", "))
    }
    if let t = a.unwindTables {
      var line =
        "unwind tables: \(t.binaries) binaries, \(t.rows) rows (\(fixed(Double(t.bytes) / 1_048_576, 1)) MB of BPF map), "
        + "built in \(fixed(t.milliseconds, 0)) ms"
      if t.failed > 0 { line += "; \(t.failed) binaries without a table (frame pointers there)" }
      if t.mappingsDropped > 0 { line += "; \(t.mappingsDropped) mappings past the per-process limit" }
      if t.processFailures > 0 { line += "; \(t.processFailures) processes' mappings not written (frame pointers)" }
      lines.append(line)
    }
    return lines
  }
}
