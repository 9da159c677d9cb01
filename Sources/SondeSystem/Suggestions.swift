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
  let lowered = name.lowercased()
  // Typed steps: as one chained expression this took the type checker 17 s.
  var scored: [(name: String, distance: Int)] = []
  for candidate in candidates {
    let distance = editDistance(lowered, candidate.lowercased())
    let close = distance <= threshold || candidate.hasPrefix(name) || (candidate.contains(name) && name.count >= 4)
    if close { scored.append((candidate, distance)) }
  }
  scored.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.name < $1.name }
  var seen = Set<String>()
  var result: [String] = []
  for entry in scored where result.count < limit && seen.insert(entry.name).inserted { result.append(entry.name) }
  return result
}
