import SondeText

/// speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json): one shared frame
/// table (a frame per function: name, and the module as `file`) and one "sampled" profile per process,
/// whose samples are stacks of frame indices from root to leaf with a weight each.
public enum SpeedscopeExporter {
  /// The unit of the weights: samples ("none"), or nanoseconds for a profile weighted by time.
  public enum Unit: String, Sendable {
    case none, nanoseconds
  }

  /// The whole file. `useWeight` writes each entry's summed weight (e.g. blocked nanoseconds) instead of
  /// its sample count; `name` names the profile group (speedscope shows it as the title).
  public static func render(
    _ profile: ResolvedProfile, name: String, unit: Unit = .none, useWeight: Bool = false, exporter: String = "sonde"
  ) -> String {
    let source = profile.source
    let frames = profile.functions.map { function -> String in
      var frame = JSONObject()
      frame.add("name", function.name)
      frame.add("file", function.module)
      return frame.text()
    }
    // One profile per process, in order of first appearance; its name is the comm of its first thread.
    var processOrder: [Int32] = []
    var samples: [Int32: [String]] = [:]
    var weights: [Int32: [String]] = [:]
    var totals: [Int32: UInt64] = [:]
    var names: [Int32: String] = [:]
    for entry in source.entries {
      let thread = source.threads[entry.thread]
      if samples[thread.pid] == nil {
        processOrder.append(thread.pid)
        samples[thread.pid] = []
        names[thread.pid] = profile.comms[Int(profile.commOfThread[entry.thread])]
      }
      // Stacks are stored leaf first; speedscope wants root first.
      let stack = source.stack(entry.stack).reversed().map { String(profile.functionOfLocation[Int($0)]) }
      let value = useWeight ? entry.weight : entry.count
      samples[thread.pid, default: []].append("[" + stack.joined(separator: ",") + "]")
      weights[thread.pid, default: []].append(String(value))
      totals[thread.pid, default: 0] +|= value
    }
    let profiles = processOrder.map { pid -> String in
      var p = JSONObject()
      p.add("type", "sampled")
      p.add("name", "\(names[pid] ?? "?") (pid \(pid))")
      p.add("unit", unit.rawValue)
      p.add("startValue", 0)
      p.add("endValue", totals[pid] ?? 0)
      p.add("samples", json: "[" + (samples[pid] ?? []).joined(separator: ",") + "]")
      p.add("weights", json: "[" + (weights[pid] ?? []).joined(separator: ",") + "]")
      return p.text()
    }
    var shared = JSONObject()
    shared.add("frames", json: "[" + frames.joined(separator: ",") + "]")
    var file = JSONObject()
    file.add("$schema", "https://www.speedscope.app/file-format-schema.json")
    file.add("shared", json: shared.text())
    file.add("profiles", json: "[" + profiles.joined(separator: ",") + "]")
    file.add("name", name)
    file.add("activeProfileIndex", 0)
    file.add("exporter", exporter)
    return file.text() + "\n"
  }
}
