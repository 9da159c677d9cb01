/// "Did you mean" suggestions for misspelled names (events, tracepoints, symbols, probes).

/// Edit distance, for "did you mean" suggestions.
public func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.utf8)
  let b = Array(b.utf8)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var previous = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    }
    swap(&previous, &current)
  }
  return previous[b.count]
}

/// Up to `limit` names closest to `name`, closest first, within a distance that still looks like a typo.
public func closeMatches(to name: String, in candidates: [String], limit: Int = 3) -> [String] {
  let threshold = Swift.max(2, name.count / 3)
  let scored = candidates.map { ($0, editDistance(name.lowercased(), $0.lowercased())) }
    .filter { $0.1 <= threshold || $0.0.hasPrefix(name) || $0.0.contains(name) && name.count >= 4 }
    .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
  var seen = Set<String>()
  return scored.compactMap { seen.insert($0.0).inserted ? $0.0 : nil }.prefix(limit).map { $0 }
}
