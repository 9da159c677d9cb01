/// Rust's legacy mangling: an Itanium-shaped `_ZN <len><ident>… 17h<16 hex> E` path with `$…$` escapes.
///
/// Written from the scheme rustc-demangle documents: `$LT$`→`<`, `$GT$`→`>`, `$RF$`→`&`, `$BP$`→`*`,
/// `$SP$`→`@`, `$LP$`/`$RP$`→parentheses, `$C$`→`,`, `$uXX$`→the Unicode scalar XX, `..`→`::`.
enum RustLegacyDemangler {
  /// Whether the name's last path component is Rust's `h<16 hex digits>` hash.
  static func hasHashSuffix(_ name: String) -> Bool {
    guard let components = components(of: name), let last = components.last else { return false }
    return isHash(last)
  }

  static func isHash(_ component: Substring) -> Bool {
    component.utf8.count == 17 && component.first == "h" && component.dropFirst().allSatisfy(\.isHexDigit)
  }

  /// The raw length-prefixed components between `_ZN` and `E`, or nil if the name is not of that shape.
  static func components(of name: String) -> [Substring]? {
    var text = name[...]
    if text.hasPrefix("__ZN") {
      text = text.dropFirst(4)
    } else if text.hasPrefix("_ZN") {
      text = text.dropFirst(3)
    } else {
      return nil
    }
    var result: [Substring] = []
    while let first = text.first, first != "E" {
      let digits = text.prefix { $0.isASCII && $0.isNumber }
      guard !digits.isEmpty, let length = Int(digits), length > 0 else { return nil }
      text = text.dropFirst(digits.count)
      guard text.utf8.count >= length else { return nil }
      let end = text.utf8.index(text.startIndex, offsetBy: length)
      result.append(text[..<end])
      text = text[end...]
    }
    guard text.first == "E", !result.isEmpty else { return nil }
    return result
  }

  /// The demangled path, e.g. `_ZN4core3ptr13drop_in_place17h0123456789abcdefE` → `core::ptr::drop_in_place`.
  static func demangle(_ name: String, includeHash: Bool) -> String? {
    guard var components = components(of: name) else { return nil }
    if !includeHash, let last = components.last, isHash(last), components.count > 1 { components.removeLast() }
    var parts: [String] = []
    for component in components {
      guard let decoded = decode(component) else { return nil }
      parts.append(decoded)
    }
    return parts.joined(separator: "::")
  }

  private static func decode(_ component: Substring) -> String? {
    var text = component
    if text.hasPrefix("_$") { text = text.dropFirst() }
    var out = ""
    while let first = text.first {
      if first == "$" {
        let body = text.dropFirst()
        guard let close = body.firstIndex(of: "$") else { return nil }
        let escape = body[..<close]
        switch escape {
        case "SP": out += "@"
        case "BP": out += "*"
        case "RF": out += "&"
        case "LT": out += "<"
        case "GT": out += ">"
        case "LP": out += "("
        case "RP": out += ")"
        case "C": out += ","
        default:
          guard escape.first == "u", let value = UInt32(escape.dropFirst(), radix: 16),
            let scalar = Unicode.Scalar(value)
          else { return nil }
          out.unicodeScalars.append(scalar)
        }
        text = body[body.index(after: close)...]
      } else if text.hasPrefix("..") {
        out += "::"
        text = text.dropFirst(2)
      } else {
        out.append(first)
        text = text.dropFirst()
      }
    }
    return out
  }
}
