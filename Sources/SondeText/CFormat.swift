#if canImport(Glibc)
  import Glibc
#endif

extension String {
  /// printf-style formatting through vsnprintf, without Foundation (`String(cFormat: "%8.3f", x)`).
  public init(cFormat format: String, _ arguments: CVarArg...) {
    self = withVaList(arguments) { list in
      var buffer = [CChar](repeating: 0, count: 256)
      let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
      if needed >= buffer.count {
        buffer = [CChar](repeating: 0, count: needed + 1)
        _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
      }
      return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
  }
}

/// `value` with exactly `digits` decimals, rounded as printf rounds (`%.2f`, what perf prints): the one
/// decimal formatter of Sonde's renderers.
public func fixed(_ value: Double, _ digits: Int) -> String {
  String(cFormat: "%.*f", Int32(digits), value)
}
