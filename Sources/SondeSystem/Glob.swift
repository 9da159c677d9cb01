#if canImport(Glibc)
  import Glibc
#endif

/// Shell-style glob matching (`*`, `?`, `[…]`), as fnmatch(3).
public func globMatches(_ pattern: String, _ text: String) -> Bool {
  fnmatch(pattern, text, 0) == 0
}

/// Whether a string contains glob metacharacters.
public func isGlob(_ text: some StringProtocol) -> Bool {
  text.contains { $0 == "*" || $0 == "?" || $0 == "[" }
}
