#if canImport(Glibc)
  import Glibc
#endif

/// Finds a C function by name in the already-loaded images, then in `libraries` (dlopen'ed RTLD_LOCAL).
private func lookupFunction(_ name: String, libraries: [String]) -> UnsafeMutableRawPointer? {
  if let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) { return symbol }
  for library in libraries {
    if let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, name) { return symbol }
  }
  return nil
}

/// The Swift runtime's demangler, `swift_demangle` from libswiftCore.
///
/// `char *swift_demangle(const char *name, size_t length, char *buffer, size_t *bufferSize, uint32_t flags)`
/// returns a malloc'd string when no buffer is passed; Sonde frees it.
final class SwiftRuntimeDemangler: Sendable {
  typealias Function =
    @convention(c) (
      UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UInt32
    ) -> UnsafeMutablePointer<CChar>?

  static let shared = SwiftRuntimeDemangler()
  private let function: Function?

  private init() {
    let symbol = lookupFunction("swift_demangle", libraries: ["libswiftCore.so"])
    function = symbol.map { unsafeBitCast($0, to: Function.self) }
  }

  /// Whether the runtime entry point was found.
  var isAvailable: Bool { function != nil }

  func demangle(_ name: String) -> String? {
    guard let function else { return nil }
    var copy = name
    return copy.withUTF8 { utf8 -> String? in
      utf8.withMemoryRebound(to: CChar.self) { chars -> String? in
        guard let result = function(chars.baseAddress, chars.count, nil, nil, 0) else { return nil }
        defer { free(result) }
        let text = String(cString: result)
        return text == name ? nil : text
      }
    }
  }

  /// A shorter rendering of a fully demangled Swift name: drops specialization descriptions, `Swift.`
  /// qualifiers, extension annotations and generic `where` clauses.
  static func simplify(_ text: String) -> String {
    var result = text
    for noise in ["generic specialization ", "function signature specialization "] {
      while let range = result.firstRange(of: noise) {
        // Remove "… <…> of " up to and including the matching " of ".
        guard let close = matchingAngle(in: result, from: range.upperBound),
          result[close...].hasPrefix("> of ")
        else { break }
        result.removeSubrange(range.lowerBound..<result.index(close, offsetBy: 5))
      }
    }
    while let range = result.firstRange(of: "(extension in ") {
      guard let end = result[range.upperBound...].firstRange(of: "):") else { break }
      result.removeSubrange(range.lowerBound..<end.upperBound)
    }
    while let range = result.firstRange(of: " where ") {
      guard let close = result[range.upperBound...].firstIndex(of: ">") else { break }
      result.removeSubrange(range.lowerBound..<close)
    }
    result = result.replacingAll("Swift.", with: "")
    return result
  }

  private static func matchingAngle(in text: String, from start: String.Index) -> String.Index? {
    guard start < text.endIndex, text[start] == "<" else { return nil }
    var depth = 0
    var index = start
    while index < text.endIndex {
      if text[index] == "<" { depth += 1 }
      if text[index] == ">" {
        depth -= 1
        if depth == 0 { return index }
      }
      index = text.index(after: index)
    }
    return nil
  }
}

/// The C++ runtime's Itanium demangler, `__cxa_demangle` from libstdc++ (or libc++abi).
final class CxxRuntimeDemangler: Sendable {
  typealias Function =
    @convention(c) (
      UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int32>?
    ) -> UnsafeMutablePointer<CChar>?

  static let shared = CxxRuntimeDemangler()
  private let function: Function?

  private init() {
    let symbol = lookupFunction("__cxa_demangle", libraries: ["libstdc++.so.6", "libc++abi.so.1"])
    function = symbol.map { unsafeBitCast($0, to: Function.self) }
  }

  var isAvailable: Bool { function != nil }

  func demangle(_ name: String) -> String? {
    guard let function else { return nil }
    var status: Int32 = 0
    guard let result = name.withCString({ function($0, nil, nil, &status) }) else { return nil }
    defer { free(result) }
    return status == 0 ? String(cString: result) : nil
  }
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
