#if canImport(Glibc)
  import Glibc
#endif

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
