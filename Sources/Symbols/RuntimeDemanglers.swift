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
/// returns a malloc'd string when no buffer is passed; Sonde frees it. The runtime prints types without
/// sugar (`Swift.Array<Int>`); `SwiftSugar` rewrites them as `swift demangle` prints them (`[Int]`).
/// The simplified form comes from the toolchain's libswiftDemangle when it is installed (exactly
/// `swift demangle --simplified`), else from a textual simplification of the runtime's output.
final class SwiftRuntimeDemangler: Sendable {
  typealias Function =
    @convention(c) (
      UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UInt32
    ) -> UnsafeMutablePointer<CChar>?
  /// `size_t swift_demangle_getSimplifiedDemangledName(const char *, char *buffer, size_t length)`.
  typealias BufferFunction = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int) -> Int

  static let shared = SwiftRuntimeDemangler()
  private let function: Function?
  private let simplifiedFunction: BufferFunction?

  private init() {
    let symbol = lookupFunction("swift_demangle", libraries: ["libswiftCore.so"])
    function = symbol.map { unsafeBitCast($0, to: Function.self) }
    // libswiftDemangle ships with the toolchain next to lib/swift/linux/libswiftCore.so.
    var simplified: BufferFunction?
    let maps = try? ProcessMaps.read(pid: getpid())
    if symbol != nil, let core = maps?.mappings.first(where: { $0.path.hasSuffix("/libswiftCore.so") })?.path {
      let parts = core.split(separator: "/", omittingEmptySubsequences: false)
      if parts.count > 3 {
        let library = parts.dropLast(3).joined(separator: "/") + "/libswiftDemangle.so"
        if let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL),
          let entry = dlsym(handle, "swift_demangle_getSimplifiedDemangledName")
        {
          simplified = unsafeBitCast(entry, to: BufferFunction.self)
        }
      }
    }
    simplifiedFunction = simplified
  }

  /// Whether the runtime entry point was found.
  var isAvailable: Bool { function != nil }

  /// The full demangling, as `swift demangle` prints it.
  func demangle(_ name: String) -> String? {
    guard let function else { return nil }
    var copy = name
    let raw = copy.withUTF8 { utf8 -> String? in
      utf8.withMemoryRebound(to: CChar.self) { chars -> String? in
        guard let result = function(chars.baseAddress, chars.count, nil, nil, 0) else { return nil }
        defer { free(result) }
        return String(cString: result)
      }
    }
    guard let raw, raw != name else { return nil }
    return SwiftSugar.apply(raw)
  }

  /// The simplified demangling (no module names, no implicit self types).
  func demangleSimplified(_ name: String) -> String? {
    if let simplifiedFunction {
      var capacity = 1024
      while capacity <= 1 << 20 {
        var buffer = [CChar](repeating: 0, count: capacity)
        let length = name.withCString { simplifiedFunction($0, &buffer, capacity) }
        if length == 0 { break }
        if length < capacity {
          let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
          return text == name ? nil : text
        }
        capacity = length + 1
      }
    }
    return demangle(name).map(SwiftRuntimeDemangler.simplify)
  }

  /// A textual approximation of the simplified form: drops specialization descriptions, `Swift.`
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

/// Re-sugars the Swift runtime's demangled text the way `swift demangle` prints types by default:
/// `Swift.Array<T>` → `[T]`, `Swift.Dictionary<K, V>` → `[K : V]`, `Swift.Optional<T>` → `T?` (parenthesized
/// when T is a function type or a composition), `Swift.ImplicitlyUnwrappedOptional<T>` → `T!`.
/// Works on UTF-8 bytes: every character it looks at is ASCII.
enum SwiftSugar {
  private static let forms: [(prefix: [UInt8], kind: Int)] = [
    (Array("Swift.Array<".utf8), 0), (Array("Swift.Dictionary<".utf8), 1), (Array("Swift.Optional<".utf8), 2),
    (Array("Swift.ImplicitlyUnwrappedOptional<".utf8), 3),
  ]
  private static let marker = Array("Swift.".utf8)

  static func apply(_ text: String) -> String {
    let bytes = Array(text.utf8)
    guard containsMarker(bytes) else { return text }
    return String(decoding: rewrite(bytes[...]), as: UTF8.self)
  }

  private static func containsMarker(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= marker.count else { return false }
    for i in 0...(bytes.count - marker.count) where bytes[i] == UInt8(ascii: "S") {
      if bytes[i..<(i + marker.count)].elementsEqual(marker) { return true }
    }
    return false
  }

  private static func isIdentifier(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2e
      || c >= 0x80
  }

  private static func rewrite(_ chars: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(chars.count)
    var i = chars.startIndex
    outer: while i < chars.endIndex {
      if chars[i] == UInt8(ascii: "S"), i == chars.startIndex || !isIdentifier(chars[i - 1]) {
        for form in forms where chars[i...].starts(with: form.prefix) {
          let open = i + form.prefix.count - 1
          guard let close = matchingClose(chars, open) else { continue }
          let arguments = splitTopLevel(chars[(open + 1)..<close]).map { rewrite($0) }
          switch form.kind {
          case 0 where arguments.count == 1:
            out.append(UInt8(ascii: "["))
            out += arguments[0]
            out.append(UInt8(ascii: "]"))
          case 1 where arguments.count == 2:
            out.append(UInt8(ascii: "["))
            out += arguments[0]
            out += Array(" : ".utf8)
            out += arguments[1]
            out.append(UInt8(ascii: "]"))
          case 2 where arguments.count == 1, 3 where arguments.count == 1:
            let mark = UInt8(ascii: form.kind == 2 ? "?" : "!")
            if isSimple(arguments[0]) {
              out += arguments[0]
            } else {
              out.append(UInt8(ascii: "("))
              out += arguments[0]
              out.append(UInt8(ascii: ")"))
            }
            out.append(mark)
          default: continue
          }
          i = close + 1
          continue outer
        }
      }
      out.append(chars[i])
      i += 1
    }
    return out
  }

  private static func isArrow(_ chars: ArraySlice<UInt8>, _ i: Int) -> Bool {
    i > chars.startIndex && chars[i - 1] == UInt8(ascii: "-")
  }

  /// The index of the `>` closing the `<` at `open`; `->` arrows are not brackets.
  private static func matchingClose(_ chars: ArraySlice<UInt8>, _ open: Int) -> Int? {
    var depth = 0
    var i = open
    while i < chars.endIndex {
      switch chars[i] {
      case UInt8(ascii: "<"), UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
      case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
      case UInt8(ascii: ">"):
        if !isArrow(chars, i) {
          depth -= 1
          if depth == 0 { return i }
        }
      default: break
      }
      i += 1
    }
    return nil
  }

  /// Splits generic arguments at top-level `, `.
  private static func splitTopLevel(_ chars: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    var parts: [ArraySlice<UInt8>] = []
    var depth = 0
    var start = chars.startIndex
    var i = chars.startIndex
    while i < chars.endIndex {
      switch chars[i] {
      case UInt8(ascii: "<"), UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
      case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
      case UInt8(ascii: ">"): if !isArrow(chars, i) { depth -= 1 }
      case UInt8(ascii: ","):
        if depth == 0 {
          parts.append(chars[start..<i])
          start = i + 1
          if start < chars.endIndex && chars[start] == UInt8(ascii: " ") { start += 1 }
        }
      default: break
      }
      i += 1
    }
    parts.append(chars[start..<chars.endIndex])
    return parts
  }

  /// Whether an optional's wrapped type prints without parentheses (not a function type or composition).
  private static func isSimple(_ type: [UInt8]) -> Bool {
    for prefix in ["@", "any ", "some ", "inout "] where type.starts(with: prefix.utf8) { return false }
    var depth = 0
    let chars = type[...]
    for i in chars.indices {
      switch chars[i] {
      case UInt8(ascii: "<"), UInt8(ascii: "("), UInt8(ascii: "["): depth += 1
      case UInt8(ascii: ")"), UInt8(ascii: "]"): depth -= 1
      case UInt8(ascii: ">"):
        if isArrow(chars, i) {
          if depth == 0 { return false }
        } else {
          depth -= 1
        }
      case UInt8(ascii: "&"): if depth == 0 { return false }
      default: break
      }
    }
    return true
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
    return status == 0 ? CxxRuntimeDemangler.expandStandardAbbreviations(String(cString: result)) : nil
  }

  private static let abbreviations: [(String, String)] = [
    ("std::string", "std::basic_string<char, std::char_traits<char>, std::allocator<char> >"),
    ("std::istream", "std::basic_istream<char, std::char_traits<char> >"),
    ("std::ostream", "std::basic_ostream<char, std::char_traits<char> >"),
    ("std::iostream", "std::basic_iostream<char, std::char_traits<char> >"),
  ]

  /// Spells the Itanium standard abbreviations `Ss`, `Si`, `So`, `Sd` in full, as c++filt does (it demangles
  /// verbosely); `__cxa_demangle` prints them as `std::string` etc. These spellings only arise from the
  /// abbreviations, since demangled names never contain typedefs.
  static func expandStandardAbbreviations(_ text: String) -> String {
    guard text.contains("std::") else { return text }
    let chars = Array(text)
    var out = ""
    var i = 0
    func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
    func isIdentifier(_ c: Character) -> Bool { isWordCharacter(c) || c == ":" }
    outer: while i < chars.count {
      if chars[i] == "s", i == 0 || !isIdentifier(chars[i - 1]) {
        for (short, full) in abbreviations {
          let pattern = Array(short)
          let end = i + pattern.count
          if end <= chars.count, Array(chars[i..<end]) == pattern, end == chars.count || !isWordCharacter(chars[end]) {
            out += full
            if end < chars.count && chars[end] == ">" { out += " " }  // `> >`, as the demanglers space it
            i = end
            continue outer
          }
        }
      }
      out.append(chars[i])
      i += 1
    }
    return out
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
