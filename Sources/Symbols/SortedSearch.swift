extension RandomAccessCollection where Index == Int {
  /// For a collection sorted by `key`: how many leading elements have a key at most `value`, which is the
  /// index just past the last of them (0 when none). Binary search; the lookups of symbol tables, kallsyms,
  /// perf maps and process maps all start here.
  func countOfElements(keyedAtMost value: UInt64, by key: (Element) -> UInt64) -> Int {
    var low = startIndex
    var high = endIndex
    while low < high {
      let mid = low + (high - low) / 2
      if key(self[mid]) <= value { low = mid + 1 } else { high = mid }
    }
    return low
  }
}
