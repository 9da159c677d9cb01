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
