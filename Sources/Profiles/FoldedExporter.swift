/// Brendan Gregg's folded-stack format: `comm;root;…;leaf count`, one line per distinct stack, the
/// input of flamegraph.pl, speedscope and inferno.
public enum FoldedExporter {
  /// Folded lines sorted by stack text. `useWeight` sums periods instead of counting samples.
  ///
  /// Stacks are folded by function ids first (entries whose threads share a command and whose frames share
  /// functions merge), so text is made once per distinct folded stack, not once per entry.
  public static func lines(_ profile: ResolvedProfile, useWeight: Bool = false, includeComm: Bool = true) -> [(
    stack: String, value: UInt64
  )] {
    let source = profile.source
    // Folded text names frames by function name only: intern the sanitized names, then fold by name ids.
    var names: [String] = []
    var nameIndex: [String: Int32] = [:]
    func nameID(_ text: String) -> Int32 {
      if let id = nameIndex[text] { return id }
      let id = Int32(names.count)
      names.append(text)
      nameIndex[text] = id
      return id
    }
    let nameOfFunction = profile.functions.map { nameID(sanitize($0.name)) }
    let nameOfComm = profile.comms.map { nameID(sanitize($0)) }
    var folded = SequenceTable<Int32>(capacity: source.entries.count)
    var totals: [UInt64] = []
    var key: [Int32] = []
    for entry in source.entries {
      key.removeAll(keepingCapacity: true)
      if includeComm { key.append(nameOfComm[Int(profile.commOfThread[entry.thread])]) }
      for location in source.stack(entry.stack).reversed() {
        key.append(nameOfFunction[Int(profile.functionOfLocation[Int(location)])])
      }
      let (id, inserted) = key.withUnsafeBufferPointer { folded.intern($0) }
      if inserted { totals.append(0) }
      totals[id] +|= useWeight ? entry.weight : entry.count
    }
    var lines: [(stack: String, value: UInt64)] = []
    lines.reserveCapacity(folded.count)
    for id in 0..<folded.count {
      let ids = folded[id]
      var text = ""
      for (i, name) in zip(ids.indices, ids) {
        if i != ids.startIndex { text += ";" }
        text += names[Int(name)]
      }
      lines.append((text, totals[id]))
    }
    lines.sort { $0.stack < $1.stack }
    return lines
  }

  /// The whole folded text, newline-terminated.
  public static func render(_ profile: ResolvedProfile, useWeight: Bool = false) -> String {
    var out = ""
    for l in lines(profile, useWeight: useWeight) {
      out += l.stack
      out += " "
      out += String(l.value)
      out += "\n"
    }
    return out
  }

  /// Frame names may not contain the separator or a newline.
  static func sanitize(_ name: String) -> String {
    var s = name
    if s.utf8.contains(UInt8(ascii: ";")) || s.utf8.contains(UInt8(ascii: "\n")) {
      s = String(s.map { $0 == ";" ? ":" : ($0 == "\n" ? " " : $0) })
    }
    return s.isEmpty ? "[unknown]" : s
  }
}
