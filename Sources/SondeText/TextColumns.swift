extension String {
  /// The string widened with spaces to `width` characters, on the right (left-aligned text) or, with
  /// `alignRight`, on the left. Longer strings are returned unchanged. For perf-style fixed columns.
  public func padded(to width: Int, alignRight: Bool = false) -> String {
    let missing = width - count
    guard missing > 0 else { return self }
    let spaces = String(repeating: " ", count: missing)
    return alignRight ? spaces + self : self + spaces
  }
}
