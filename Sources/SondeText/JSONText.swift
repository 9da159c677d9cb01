/// Text helpers for the JSON lines Sonde prints (kept dependency-free: no Foundation in the engines).

/// A JSON string literal for `text`.
public func jsonString(_ text: String) -> String {
  var out = "\""
  for scalar in text.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\t": out += "\\t"
    case "\r": out += "\\r"
    default:
      if scalar.value < 0x20 {
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
  }
  return out + "\""
}

/// One JSON object, its members in the order they are added: the one way Sonde writes JSON (stat -j, list,
/// symbolize, features), without Foundation and with the key order each output documents.
public struct JSONObject: Sendable {
  private var members: [(key: String, value: String)] = []

  public init() {}

  /// A string member, or `null` when nil.
  public mutating func add(_ key: String, _ value: String?) { members.append((key, value.map(jsonString) ?? "null")) }
  public mutating func add(_ key: String, _ value: some BinaryInteger) { members.append((key, "\(value)")) }
  public mutating func add(_ key: String, _ value: Bool) { members.append((key, value ? "true" : "false")) }
  /// A member whose value is already JSON (a number formatted by the caller, a nested object or array).
  public mutating func add(_ key: String, json value: String) { members.append((key, value)) }

  /// The object's text. `spaced` writes `"key" : value` as perf stat -j does; otherwise `"key":value`.
  public func text(spaced: Bool = false) -> String {
    let colon = spaced ? " : " : ":"
    return "{" + members.map { jsonString($0.key) + colon + $0.value }.joined(separator: spaced ? ", " : ",") + "}"
  }
}

/// A JSON array of already-written values, one per line when `pretty`.
public func jsonArray(_ values: [String], pretty: Bool = false) -> String {
  pretty ? "[\n  " + values.joined(separator: ",\n  ") + "\n]" : "[" + values.joined(separator: ",") + "]"
}
