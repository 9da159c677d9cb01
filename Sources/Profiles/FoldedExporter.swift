/// Brendan Gregg's folded-stack format: `comm;root;…;leaf count`, one line per distinct stack, the
/// input of flamegraph.pl, speedscope and inferno.
public enum FoldedExporter {
  /// Folded lines sorted by stack text. `useWeight` sums periods instead of counting samples.
  public static func lines(_ profile: ResolvedProfile, useWeight: Bool = false, includeComm: Bool = true) -> [(
    stack: String, value: UInt64
  )] {
    var totals: [String: UInt64] = [:]
    for s in profile.samples {
      var parts: [String] = []
      if includeComm { parts.append(sanitize(s.thread.comm)) }
      parts.append(contentsOf: s.frames.map { sanitize($0.name) })
      totals[parts.joined(separator: ";"), default: 0] +|= useWeight ? s.weight : s.count
    }
    return totals.sorted { $0.key < $1.key }.map { (stack: $0.key, value: $0.value) }
  }

  /// The whole folded text, newline-terminated.
  public static func render(_ profile: ResolvedProfile, useWeight: Bool = false) -> String {
    var out = ""
    for l in lines(profile, useWeight: useWeight) { out += "\(l.stack) \(l.value)\n" }
    return out
  }

  /// Frame names may not contain the separator or a newline.
  static func sanitize(_ name: String) -> String {
    var s = name
    if s.contains(";") || s.contains("\n") {
      s = String(s.map { $0 == ";" ? ":" : ($0 == "\n" ? " " : $0) })
    }
    return s.isEmpty ? "[unknown]" : s
  }
}
