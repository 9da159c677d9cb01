import Pprof
import Profiles
import SondeText

/// What the agent serves and pushes, made from an `AgentProfile`: pprof (for pprof, Parca, Pyroscope) and
/// the JSON the web UI reads.
enum AgentExport {
  /// The profile as a gzipped pprof file: CPU samples at the agent's frequency (or nanoseconds off-CPU,
  /// the one value an off-CPU store keeps), each sample labelled with its process's pid, comm, executable,
  /// cgroup, container id and systemd unit.
  static func pprof(_ profile: AgentProfile) throws -> [UInt8] {
    let cpu = profile.kind == .cpu
    var builder = ProfileBuilder(eventName: cpu ? "cpu-clock" : "offcpu-time")
    if cpu { builder.setRate(frequency: profile.frequency, period: nil) }
    // The agent keeps functions, not addresses: each function gets one synthetic address inside a range of
    // its binary (kernel functions in range 0), and each binary one mapping, so pprof shows binaries too.
    var functionAddress: [AgentFunction: UInt64] = [:]
    var functionAt: [UInt64: AgentFunction] = [:]
    var moduleIndex: [String: UInt64] = [:]
    var moduleCount: [UInt64: UInt64] = [:]
    var mappings: [Profile.Mapping] = []
    var threadLabels: [Int: [(key: String, value: String)]] = [:]
    var stack: [UInt32] = []
    func address(_ f: AgentFunction) -> UInt64 {
      if let known = functionAddress[f] { return known }
      var module: UInt64 = 0
      if !f.isKernel {
        if let known = moduleIndex[f.module] {
          module = known
        } else {
          module = UInt64(moduleIndex.count + 1)
          moduleIndex[f.module] = module
          mappings.append(
            Profile.Mapping(pid: 0, start: module << 32, end: (module + 1) << 32, fileOffset: 0, path: f.module))
        }
      }
      let slot = (moduleCount[module] ?? 0) + 1
      moduleCount[module] = slot
      let a = module << 32 | slot
      functionAddress[f] = a
      functionAt[a] = f
      return a
    }
    for entry in profile.entries {
      stack.removeAll(keepingCapacity: true)
      for f in entry.frames.reversed() {
        stack.append(
          builder.location(Profile.Location(address: address(f), pid: 0, isKernel: f.isKernel, isReturnAddress: false)))
      }
      let l = entry.labels
      let thread = builder.thread(Profile.Thread(pid: l.pid, tid: l.pid, comm: l.comm))
      threadLabels[thread] = [
        ("exe", l.exe), ("cgroup", l.cgroup), ("container_id", l.container), ("systemd_unit", l.unit),
      ]
      let id = stack.withUnsafeBufferPointer { builder.stack($0) }
      builder.add(stack: id, thread: thread, count: entry.count, weight: entry.count)
    }
    var built = builder.build()
    built.durationNanoseconds = UInt64(max(0, profile.to - profile.from))
    built.mappings = mappings
    let resolved = ResolvedProfile(built) { _, address, _, _ in
      let f = functionAt[address] ?? AgentFunction(name: "[unknown]", module: "", isKernel: false)
      return ResolvedFrame(name: f.name, module: f.module, isKernel: f.isKernel)
    }
    var options: PprofExporter.Options
    if cpu {
      options = .cpu(frequency: profile.frequency, weightIsCount: true)
      options.comments = ["sonde agent: \(profile.sampleCount) samples at \(profile.frequency) Hz per CPU"]
    } else {
      options = .offCPU()
      options.countType = nil
      options.comments = ["sonde agent: \(profile.sampleCount) ns blocked off-CPU"]
    }
    options.startTimeNanoseconds = profile.from
    options.threadLabels = threadLabels
    return try PprofExporter.render(resolved, options: options)
  }

  /// `{"from", "to", "samples", "unit", "stacks": [{"frames": [comm, root, …, leaf], "count"}], "truncated"}`
  /// (counts in `unit`: samples, or nanoseconds off-CPU): the
  /// stacks merged over processes with the same comm, the `limit` largest (the rest counted in truncated).
  static func stacksJSON(_ profile: AgentProfile, limit: Int) -> String {
    var merged: [[String]: UInt64] = [:]
    for entry in profile.entries {
      let frames = [entry.labels.comm] + entry.frames.map(\.displayName)
      merged[frames, default: 0] = merged[frames, default: 0].saturatingAdd(entry.count)
    }
    let sorted = merged.sorted { $0.value > $1.value }
    let kept = sorted.prefix(limit)
    let truncated = sorted.dropFirst(limit).reduce(UInt64(0)) { $0.saturatingAdd($1.value) }
    var object = JSONObject()
    object.add("from", profile.from / 1_000_000)
    object.add("to", profile.to / 1_000_000)
    object.add("samples", profile.sampleCount)
    object.add("unit", profile.kind.unit)
    object.add(
      "stacks",
      json: jsonArray(
        kept.map { stack in
          var s = JSONObject()
          s.add("frames", json: jsonArray(stack.key.map(jsonString)))
          s.add("count", stack.value)
          return s.text()
        }))
    object.add("truncated", truncated)
    return object.text()
  }

  /// `{"processes": [{"pid", "comm", "exe", "container", "unit", "cgroup", "samples"}]}`, busiest first.
  static func processesJSON(_ profile: AgentProfile, limit: Int) -> String {
    var bySeries: [ProcessLabels: UInt64] = [:]
    for entry in profile.entries {
      bySeries[entry.labels, default: 0] = bySeries[entry.labels, default: 0].saturatingAdd(entry.count)
    }
    let rows = bySeries.sorted { $0.value > $1.value }.prefix(limit).map { labels, samples in
      var o = JSONObject()
      o.add("pid", labels.pid)
      o.add("comm", labels.comm)
      o.add("exe", labels.exe)
      o.add("container", labels.container)
      o.add("unit", labels.unit)
      o.add("cgroup", labels.cgroup)
      o.add("samples", samples)
      return o.text()
    }
    var object = JSONObject()
    object.add("processes", json: jsonArray(rows))
    return object.text()
  }

  /// `{"now": ms, "windows": [{"start": ms, "end": ms, "samples": n}]}`.
  static func timelineJSON(_ windows: [ProfileStore.WindowSummary], now: Int64) -> String {
    var object = JSONObject()
    object.add("now", now / 1_000_000)
    object.add(
      "windows",
      json: jsonArray(
        windows.map { w in
          var o = JSONObject()
          o.add("start", w.start / 1_000_000)
          o.add("end", w.end / 1_000_000)
          o.add("samples", w.samples)
          return o.text()
        }))
    return object.text()
  }
}
