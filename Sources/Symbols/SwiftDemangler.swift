#if canImport(Glibc)
  import Glibc
#endif

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
    return demangle(name).map { SwiftRuntimeDemangler.simplify($0, module: SwiftRuntimeDemangler.moduleName(of: name)) }
  }

  /// A textual approximation of the simplified form: drops specialization descriptions, `Swift.`
  /// qualifiers, extension annotations and generic `where` clauses.
  /// The module of a `$s<len><Module>…` symbol (the first identifier after the prefix), if that is its shape.
  static func moduleName(of mangled: String) -> String? {
    var rest = Substring(mangled)
    for prefix in ["_$s", "$s", "_$e", "$e", "$S", "_$S"] where rest.hasPrefix(prefix) {
      rest = rest.dropFirst(prefix.count)
      break
    }
    let digits = rest.prefix { $0.isASCII && $0.isNumber }
    // The length counts UTF-8 bytes; compare without adding (a huge length must not overflow).
    guard let length = Int(digits), length > 0, length <= rest.utf8.count - digits.count else { return nil }
    let bytes = rest.utf8.dropFirst(digits.count).prefix(length)
    let module = Substring(bytes)
    guard module.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
    return String(module)
  }

  static func simplify(_ text: String, module: String?) -> String {
    var result = simplify(text)
    if let module, module != "Swift" { result = removingQualifier(module + ".", from: result) }
    return result
  }

  /// Removes `qualifier` where it starts a name (not in the middle of another identifier).
  private static func removingQualifier(_ qualifier: String, from text: String) -> String {
    var out = ""
    var rest = Substring(text)
    while let range = rest.firstRange(of: qualifier) {
      let before = range.lowerBound == rest.startIndex ? out.last : rest[rest.index(before: range.lowerBound)]
      out += rest[..<range.lowerBound]
      if let before, before.isLetter || before.isNumber || before == "_" || before == "." {
        out += qualifier
      }
      rest = rest[range.upperBound...]
    }
    return out + rest
  }

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
