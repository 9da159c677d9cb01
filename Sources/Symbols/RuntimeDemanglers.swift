#if canImport(Glibc)
  import Glibc
#endif

/// Finds a C function by name in the already-loaded images, then in `libraries` (dlopen'ed RTLD_LOCAL).
func lookupFunction(_ name: String, libraries: [String]) -> UnsafeMutableRawPointer? {
  if let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) { return symbol }
  for library in libraries {
    if let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, name) { return symbol }
  }
  return nil
}

extension String {
  /// Every occurrence of `target` replaced (no Foundation).
  func replacingAll(_ target: String, with replacement: String) -> String {
    guard !target.isEmpty else { return self }
    var result = ""
    var rest = self[...]
    while let range = rest.firstRange(of: target) {
      result += rest[..<range.lowerBound]
      result += replacement
      rest = rest[range.upperBound...]
    }
    result += rest
    return result
  }
}
