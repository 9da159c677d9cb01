/// Which mangling scheme a symbol name uses, decided by its prefix (and, for Rust's legacy scheme, its
/// `17h<16 hex digits>E` hash suffix). Each demangler is only ever applied to names of its own scheme.
public enum ManglingScheme: String, Sendable, Hashable {
  /// Swift: `$s…`, `$S…`, `$e…`, `_T0…` (with or without a leading underscore).
  case swift
  /// C++ Itanium ABI: `_Z…`.
  case itanium
  /// Rust legacy: an Itanium-style `_ZN…E` path whose last component is `h` + 16 hex digits.
  case rustLegacy
  /// Rust v0 (RFC 2603): `_R…`.
  case rustV0
  /// Not mangled (C names, assembly labels).
  case none

  /// The scheme of `name`.
  public static func of(_ name: String) -> ManglingScheme {
    let bytes = name.utf8
    guard bytes.count > 2 else { return .none }
    if name.hasPrefix("_R") || name.hasPrefix("__R") { return .rustV0 }
    for prefix in ["$s", "$S", "$e", "_$s", "_$S", "_$e", "_T0", "@__swiftmacro_"] where name.hasPrefix(prefix) {
      return .swift
    }
    if name.hasPrefix("_ZN") || name.hasPrefix("__ZN") {
      if RustLegacyDemangler.hasHashSuffix(name) { return .rustLegacy }
      return .itanium
    }
    if name.hasPrefix("_Z") || name.hasPrefix("__Z") { return .itanium }
    return .none
  }
}

/// Turns mangled symbol names into readable ones, dispatching on the mangling scheme.
///
/// Swift uses the Swift runtime's own demangler (`swift_demangle`) and C++ the C++ runtime's
/// `__cxa_demangle`, both located with dlsym and their malloc'd results freed. Rust (legacy and v0) is
/// demangled by Sonde's own code.
public struct Demangler: Sendable {
  /// Drop module prefixes and generic noise from Swift names (like `swift demangle -simplified`).
  public var simplifySwift: Bool
  /// Keep the `::h0123…` hash of Rust legacy names (rustc-demangle's non-alternate format).
  public var includeRustHash: Bool

  public init(simplifySwift: Bool = false, includeRustHash: Bool = false) {
    self.simplifySwift = simplifySwift
    self.includeRustHash = includeRustHash
  }

  /// The demangled form of `name`, or nil if it is not mangled or the demangler rejects it.
  public func demangle(_ name: String) -> String? {
    // Symbol versions (`name@@GLIBCXX_3.4`) as nm -D prints them are not part of the mangling.
    if let at = name.utf8.firstIndex(of: UInt8(ascii: "@")), at != name.startIndex, !name.hasPrefix("@__swiftmacro") {
      return demangle(String(name[..<at])).map { $0 + name[at...] }
    }
    switch ManglingScheme.of(name) {
    case .swift:
      let runtime = SwiftRuntimeDemangler.shared
      return simplifySwift ? runtime.demangleSimplified(name) : runtime.demangle(name)
    case .itanium: return CxxRuntimeDemangler.shared.demangle(name)
    case .rustLegacy: return RustLegacyDemangler.demangle(name, includeHash: includeRustHash)
    case .rustV0: return RustV0Demangler.demangle(name)
    case .none: return nil
    }
  }

  /// `demangle(name)` or the name itself.
  public func displayName(_ name: String) -> String { demangle(name) ?? name }

  /// The name as a profile prints it, short as perf keeps C++ names: C++ without its parameter list and the
  /// qualifiers after it (perf demangles with libiberty's DMGL_NO_OPTS unless -v); Swift in its simplified
  /// form, `Matrix.reduce(rounds:)` rather than `SwiftShares.Matrix.reduce(rounds: Swift.Int) -> Swift.UInt64`
  /// (perf prints Swift names mangled); Rust as `displayName`.
  public func perfName(_ name: String) -> String {
    switch ManglingScheme.of(name) {
    case .itanium:
      guard let full = demangle(name) else { return name }
      return Self.withoutParameters(full)
    case .swift:
      var simplified = self
      simplified.simplifySwift = true
      return simplified.displayName(name)
    default:
      return displayName(name)
    }
  }

  /// `ns::f<int>(char const*) const` → `ns::f<int>`: the trailing parameter list and cv/ref qualifiers go;
  /// a name without one is returned as it is.
  static func withoutParameters(_ text: String) -> String {
    var chars = Array(text)
    for suffix in [" const", " volatile", " &&", " &"] {
      let s = Array(suffix)
      while chars.count > s.count && Array(chars[(chars.count - s.count)...]) == s { chars.removeLast(s.count) }
    }
    guard chars.last == ")" else { return text }
    var depth = 0
    var i = chars.count - 1
    while i >= 0 {
      if chars[i] == ")" {
        depth += 1
      } else if chars[i] == "(" {
        depth -= 1
        if depth == 0 { break }
      }
      i -= 1
    }
    guard i > 0 else { return text }
    return String(chars[..<i])
  }
}
