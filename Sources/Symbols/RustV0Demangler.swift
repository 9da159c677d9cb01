/// Rust's v0 mangling (RFC 2603): `_R <path> [<instantiating-crate>]` with back-references, generic
/// arguments, types, constants and Punycode identifiers.
///
/// Written from the RFC's grammar. Output follows the RFC's Appendix A (and rustc-demangle's alternate
/// format): crate disambiguators and impl paths are omitted, closures print as `{closure#N}`, generic
/// arguments of value paths as `::<T>`. Malformed input returns nil; recursion and back-references are
/// bounded, so hostile names cannot recurse forever.
enum RustV0Demangler {
  static func demangle(_ name: String) -> String? {
    var symbol = Substring(name)
    if symbol.hasPrefix("__R") {
      symbol = symbol.dropFirst(3)
    } else if symbol.hasPrefix("_R") {
      symbol = symbol.dropFirst(2)
    } else {
      return nil
    }
    // Suffixes added by LLVM (`.llvm.1234`) are not part of the mangling.
    var suffix = ""
    if let dot = symbol.firstIndex(of: ".") {
      let tail = symbol[dot...]
      suffix = tail.hasPrefix(".llvm.") ? "" : String(tail)
      symbol = symbol[..<dot]
    }
    let bytes = Array(symbol.utf8)
    guard let first = bytes.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") else { return nil }
    var parser = RustV0Parser(bytes: bytes)
    guard parser.path(inValue: true) else { return nil }
    // An optional instantiating crate follows; it is not printed.
    if parser.position < bytes.count {
      parser.printing = false
      guard parser.path(inValue: false), parser.position == bytes.count else { return nil }
    }
    return parser.output + suffix
  }
}

/// A recursive-descent parser over the v0 grammar that prints while it parses.
struct RustV0Parser {
  let bytes: [UInt8]
  var position = 0
  var output = ""
  /// False while parsing parts that are not shown (impl paths, the instantiating crate).
  var printing = true
  var depth = 0
  /// Parse steps left: back-references can make a short name expand exponentially, so work is bounded.
  var budget = 100_000
  /// Number of higher-ranked lifetimes currently bound (for naming `'a`, `'b`, …).
  var boundLifetimes = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  private static let maxDepth = 300

  // MARK: Lexing

  private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

  private mutating func eat(_ c: Character) -> Bool {
    guard let ascii = c.asciiValue, peek == ascii else { return false }
    position += 1
    return true
  }

  private mutating func next() -> UInt8? {
    guard let c = peek else { return nil }
    position += 1
    return c
  }

  private mutating func emit(_ text: String) { if printing { output += text } }

  /// `{0-9a-zA-Z} "_"`: "_" is 0, otherwise the base-62 digits plus one.
  private mutating func base62() -> UInt64? {
    if eat("_") { return 0 }
    var value: UInt64 = 0
    while let c = next() {
      if c == UInt8(ascii: "_") { return value.addingReportingOverflow(1).overflow ? nil : value + 1 }
      let digit: UInt64
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = UInt64(c - UInt8(ascii: "a")) + 10
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = UInt64(c - UInt8(ascii: "A")) + 36
      default: return nil
      }
      let (times, o1) = value.multipliedReportingOverflow(by: 62)
      let (sum, o2) = times.addingReportingOverflow(digit)
      guard !o1, !o2 else { return nil }
      value = sum
    }
    return nil
  }

  /// `[ "s" <base-62-number> ]`: the disambiguator index (absent = 0, `s_` = 1).
  private mutating func disambiguator() -> UInt64? {
    guard eat("s") else { return 0 }
    guard let value = base62(), value < UInt64.max else { return nil }
    return value + 1
  }

  private mutating func decimal() -> Int? {
    guard let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
    if c == UInt8(ascii: "0") {
      position += 1
      return 0
    }
    var value = 0
    while let d = peek, d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") {
      position += 1
      value = value * 10 + Int(d - UInt8(ascii: "0"))
      guard value < 1 << 20 else { return nil }
    }
    return value
  }

  /// `["u"] <decimal-number> ["_"] <bytes>`, decoded (Punycode when `u`).
  private mutating func undisambiguatedIdentifier() -> String? {
    let isPunycode = eat("u")
    guard let length = decimal() else { return nil }
    _ = eat("_")
    guard length <= bytes.count - position else { return nil }
    let raw = bytes[position..<position + length]
    position += length
    if isPunycode { return Punycode.decodeRustIdentifier(Array(raw)) }
    return String(decoding: raw, as: UTF8.self)
  }

  // MARK: Paths

  /// Parses `<path>`; `inValue` selects `::<…>` (value paths) versus `<…>` (types) for generic arguments.
  mutating func path(inValue: Bool) -> Bool {
    depth += 1
    budget -= 1
    defer { depth -= 1 }
    guard depth < RustV0Parser.maxDepth, budget > 0, output.utf8.count < 1 << 16, let tag = next() else {
      return false
    }
    switch tag {
    case UInt8(ascii: "C"):
      guard disambiguator() != nil, let name = undisambiguatedIdentifier() else { return false }
      emit(name)
      return true
    case UInt8(ascii: "N"):
      guard let ns = next(),
        (ns >= UInt8(ascii: "a") && ns <= UInt8(ascii: "z"))
          || (ns >= UInt8(ascii: "A") && ns <= UInt8(ascii: "Z"))
      else { return false }
      guard path(inValue: inValue), let index = disambiguator(), let name = undisambiguatedIdentifier() else {
        return false
      }
      if ns >= UInt8(ascii: "A") && ns <= UInt8(ascii: "Z") {
        let kind =
          ns == UInt8(ascii: "C") ? "closure" : ns == UInt8(ascii: "S") ? "shim" : String(UnicodeScalar(ns))
        emit("::{\(kind)\(name.isEmpty ? "" : ":" + name)#\(index)}")
      } else if !name.isEmpty {
        emit("::" + name)
      }
      return true
    case UInt8(ascii: "M"), UInt8(ascii: "X"), UInt8(ascii: "Y"):
      if tag != UInt8(ascii: "Y") {
        // <impl-path> = [<disambiguator>] <path>, not shown.
        let wasPrinting = printing
        printing = false
        let ok = disambiguator() != nil && path(inValue: false)
        printing = wasPrinting
        guard ok else { return false }
      }
      emit("<")
      guard type() else { return false }
      if tag != UInt8(ascii: "M") {
        emit(" as ")
        guard path(inValue: false) else { return false }
      }
      emit(">")
      return true
    case UInt8(ascii: "I"):
      guard path(inValue: inValue) else { return false }
      emit(inValue ? "::<" : "<")
      guard genericArguments() else { return false }
      emit(">")
      return true
    case UInt8(ascii: "B"):
      return backref { $0.path(inValue: inValue) }
    default:
      return false
    }
  }

  /// `{<generic-arg>} "E"`, printed comma-separated.
  private mutating func genericArguments() -> Bool {
    var first = true
    while !eat("E") {
      guard peek != nil else { return false }
      if !first { emit(", ") }
      first = false
      if eat("L") {
        guard let index = base62() else { return false }
        emit(lifetimeName(index))
      } else if eat("K") {
        guard constant() else { return false }
      } else {
        guard type() else { return false }
      }
    }
    return true
  }

  /// Follows `B <base-62-number>` (the `B` already consumed): parses the earlier node at that offset with
  /// `body`, then resumes after the reference. Only strictly backward references are accepted.
  private mutating func backref(_ body: (inout RustV0Parser) -> Bool) -> Bool {
    let start = position - 1
    guard let target = base62(), target < UInt64(start) else { return false }
    // A chain of back-references (each pointing at the previous one) recurses once per link: count every
    // link against the same depth and work limits as the grammar's own recursion.
    budget -= 1
    guard depth + 1 < RustV0Parser.maxDepth, budget > 0 else { return false }
    let resume = position
    position = Int(target)
    depth += 1
    let ok = body(&self)
    depth -= 1
    position = resume
    return ok
  }

  private func lifetimeName(_ index: UInt64) -> String {
    if index == 0 { return "'_" }
    guard index <= UInt64(boundLifetimes) else { return "'?" }
    let depthIndex = boundLifetimes - Int(index)
    if depthIndex < 26 { return "'" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(depthIndex))) }
    return "'_\(depthIndex)"
  }

  // MARK: Types

  private static let basicTypes: [UInt8: String] = [
    UInt8(ascii: "a"): "i8", UInt8(ascii: "b"): "bool", UInt8(ascii: "c"): "char", UInt8(ascii: "d"): "f64",
    UInt8(ascii: "e"): "str", UInt8(ascii: "f"): "f32", UInt8(ascii: "h"): "u8", UInt8(ascii: "i"): "isize",
    UInt8(ascii: "j"): "usize", UInt8(ascii: "l"): "i32", UInt8(ascii: "m"): "u32", UInt8(ascii: "n"): "i128",
    UInt8(ascii: "o"): "u128", UInt8(ascii: "s"): "i16", UInt8(ascii: "t"): "u16", UInt8(ascii: "u"): "()",
    UInt8(ascii: "v"): "...", UInt8(ascii: "x"): "i64", UInt8(ascii: "y"): "u64", UInt8(ascii: "z"): "!",
    UInt8(ascii: "p"): "_",
  ]

  mutating func type() -> Bool {
    depth += 1
    budget -= 1
    defer { depth -= 1 }
    guard depth < RustV0Parser.maxDepth, budget > 0, output.utf8.count < 1 << 16, let tag = peek else {
      return false
    }
    if let basic = RustV0Parser.basicTypes[tag] {
      position += 1
      emit(basic)
      return true
    }
    switch tag {
    case UInt8(ascii: "A"), UInt8(ascii: "S"):
      position += 1
      emit("[")
      guard type() else { return false }
      if tag == UInt8(ascii: "A") {
        emit("; ")
        guard constant() else { return false }
      }
      emit("]")
      return true
    case UInt8(ascii: "T"):
      position += 1
      emit("(")
      var count = 0
      while !eat("E") {
        guard peek != nil else { return false }
        if count > 0 { emit(", ") }
        guard type() else { return false }
        count += 1
      }
      if count == 1 { emit(",") }
      emit(")")
      return true
    case UInt8(ascii: "R"), UInt8(ascii: "Q"):
      position += 1
      emit("&")
      if eat("L") {
        guard let index = base62() else { return false }
        if index != 0 { emit(lifetimeName(index) + " ") }
      }
      if tag == UInt8(ascii: "Q") { emit("mut ") }
      return type()
    case UInt8(ascii: "P"):
      position += 1
      emit("*const ")
      return type()
    case UInt8(ascii: "O"):
      position += 1
      emit("*mut ")
      return type()
    case UInt8(ascii: "F"):
      position += 1
      return functionSignature()
    case UInt8(ascii: "D"):
      position += 1
      return dynBounds()
    case UInt8(ascii: "B"):
      position += 1
      return backref { $0.type() }
    default:
      return path(inValue: false)
    }
  }

  /// `G <base-62-number>`: binds that many + 1 higher-ranked lifetimes, printed as `for<'a, …> `.
  private mutating func binder() -> Int? {
    guard eat("G") else { return 0 }
    guard let count = base62(), count < 1000 else { return nil }
    let bound = Int(count) + 1
    var names: [String] = []
    for i in 0..<bound {
      let depthIndex = boundLifetimes + i
      names.append(
        depthIndex < 26 ? "'" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(depthIndex))) : "'_\(depthIndex)")
    }
    emit("for<" + names.joined(separator: ", ") + "> ")
    boundLifetimes += bound
    return bound
  }

  private mutating func functionSignature() -> Bool {
    guard let bound = binder() else { return false }
    defer { boundLifetimes -= bound }
    if eat("U") { emit("unsafe ") }
    if eat("K") {
      if eat("C") {
        emit("extern \"C\" ")
      } else {
        guard let abi = undisambiguatedIdentifier() else { return false }
        emit("extern \"" + abi.replacingAll("_", with: "-") + "\" ")
      }
    }
    emit("fn(")
    var first = true
    while !eat("E") {
      guard peek != nil else { return false }
      if !first { emit(", ") }
      first = false
      guard type() else { return false }
    }
    emit(")")
    if eat("u") { return true }
    emit(" -> ")
    return type()
  }

  private mutating func dynBounds() -> Bool {
    guard let bound = binder() else { return false }
    defer { boundLifetimes -= bound }
    emit("dyn ")
    var first = true
    while !eat("E") {
      guard peek != nil else { return false }
      if !first { emit(" + ") }
      first = false
      guard dynTrait() else { return false }
    }
    guard eat("L"), let lifetime = base62() else { return false }
    if lifetime != 0 { emit(" + " + lifetimeName(lifetime)) }
    return true
  }

  /// `<path> {"p" <undisambiguated-identifier> <type>}`: associated-type bindings join the path's own
  /// generic argument list, as in `FnOnce<(), Output = ()>`.
  private mutating func dynTrait() -> Bool {
    var open = false
    guard pathMaybeOpenGenerics(&open) else { return false }
    while eat("p") {
      emit(open ? ", " : "<")
      open = true
      guard let name = undisambiguatedIdentifier() else { return false }
      emit(name + " = ")
      guard type() else { return false }
    }
    if open { emit(">") }
    return true
  }

  private mutating func pathMaybeOpenGenerics(_ open: inout Bool) -> Bool {
    if eat("B") {
      var isOpen = false
      let ok = backref { $0.pathMaybeOpenGenerics(&isOpen) }
      open = isOpen
      return ok
    }
    if eat("I") {
      guard path(inValue: false) else { return false }
      emit("<")
      guard genericArguments() else { return false }
      open = true
      return true
    }
    return path(inValue: false)
  }

  // MARK: Constants

  /// `<type> <const-data>`, `<type> "p"` or a back-reference. Integers, bool and char are supported.
  private mutating func constant() -> Bool {
    if eat("B") { return backref { $0.constant() } }
    guard let tag = next() else { return false }
    if eat("p") {
      emit("_")
      return true
    }
    let negative = tag == UInt8(ascii: "n") ? false : eat("n")
    var digits = ""
    while let c = next(), c != UInt8(ascii: "_") {
      guard (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
      else { return false }
      digits.append(Character(UnicodeScalar(c)))
    }
    guard bytes[position - 1] == UInt8(ascii: "_") else { return false }
    let value = digits.isEmpty ? 0 : UInt64(digits, radix: 16)
    switch tag {
    case UInt8(ascii: "h"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "y"), UInt8(ascii: "o"),
      UInt8(ascii: "j"), UInt8(ascii: "a"), UInt8(ascii: "s"), UInt8(ascii: "l"), UInt8(ascii: "x"),
      UInt8(ascii: "n"), UInt8(ascii: "i"):
      guard let value else {
        emit("0x" + digits)
        return true
      }
      emit((negative ? "-" : "") + String(value))
      return true
    case UInt8(ascii: "b"):
      guard let value, value <= 1 else { return false }
      emit(value == 1 ? "true" : "false")
      return true
    case UInt8(ascii: "c"):
      guard let value, value <= 0x10ffff, let scalar = UnicodeScalar(UInt32(value)) else { return false }
      emit("'" + String(Character(scalar)) + "'")
      return true
    default:
      return false
    }
  }
}
