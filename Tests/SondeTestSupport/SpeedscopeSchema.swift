import Foundation

/// A check of a speedscope file against speedscope's published JSON schema
/// (https://www.speedscope.app/file-format-schema.json, draft-07), written from the schema's definitions,
/// plus the two rules speedscope's importer enforces beyond it: `samples` and `weights` have the same
/// length, and every frame index names a frame.
public enum SpeedscopeSchema {
  static let units: Set<String> = ["bytes", "microseconds", "milliseconds", "nanoseconds", "none", "seconds"]

  /// Every violation found (empty: the file is valid).
  public static func violations(_ data: Data) -> [String] {
    guard let root = try? JSONSerialization.jsonObject(with: data) else { return ["not JSON"] }
    guard let file = root as? [String: Any] else { return ["FileFormat.File: not an object"] }
    var problems: [String] = []
    func require(_ ok: Bool, _ message: @autoclosure () -> String) { if !ok { problems.append(message()) } }
    require(
      file["$schema"] as? String == "https://www.speedscope.app/file-format-schema.json", "$schema: wrong or missing")
    if let v = file["activeProfileIndex"] { require(v is NSNull || isNumber(v), "activeProfileIndex: not number|null") }
    if let v = file["exporter"] { require(v is String, "exporter: not a string") }
    if let v = file["name"] { require(v is String, "name: not a string") }
    var frameCount = 0
    if let shared = file["shared"] as? [String: Any], let frames = shared["frames"] as? [Any] {
      frameCount = frames.count
      for (i, f) in frames.enumerated() {
        guard let frame = f as? [String: Any] else {
          problems.append("frames[\(i)]: not an object")
          continue
        }
        require(frame["name"] is String, "frames[\(i)].name: missing or not a string")
        if let v = frame["file"] { require(v is String, "frames[\(i)].file: not a string") }
        if let v = frame["line"] { require(isNumber(v), "frames[\(i)].line: not a number") }
        if let v = frame["col"] { require(v is NSNull || isNumber(v), "frames[\(i)].col: not number|null") }
      }
    } else {
      problems.append("shared.frames: missing or not an array")
    }
    guard let profiles = file["profiles"] as? [Any] else { return problems + ["profiles: missing or not an array"] }
    for (i, p) in profiles.enumerated() {
      guard let profile = p as? [String: Any] else {
        problems.append("profiles[\(i)]: not an object")
        continue
      }
      let where_ = "profiles[\(i)]"
      require(profile["name"] is String, "\(where_).name: missing or not a string")
      require(isNumber(profile["startValue"]), "\(where_).startValue: missing or not a number")
      require(isNumber(profile["endValue"]), "\(where_).endValue: missing or not a number")
      require((profile["unit"] as? String).map(units.contains) == true, "\(where_).unit: not a ValueUnit")
      switch profile["type"] as? String {
      case "sampled":
        guard let samples = profile["samples"] as? [Any], let weights = profile["weights"] as? [Any] else {
          problems.append("\(where_): samples and weights must be arrays")
          continue
        }
        require(weights.allSatisfy(isNumber), "\(where_).weights: not all numbers")
        require(samples.count == weights.count, "\(where_): \(samples.count) samples but \(weights.count) weights")
        for (j, s) in samples.enumerated() {
          guard let stack = s as? [Any], stack.allSatisfy(isNumber) else {
            problems.append("\(where_).samples[\(j)]: not an array of numbers")
            continue
          }
          for n in stack {
            let index = (n as? NSNumber)?.intValue ?? -1
            require(index >= 0 && index < frameCount, "\(where_).samples[\(j)]: frame \(index) out of range")
          }
        }
      case "evented":
        require(profile["events"] is [Any], "\(where_).events: missing or not an array")
      default:
        problems.append("\(where_).type: neither sampled nor evented")
      }
    }
    return problems
  }

  static func isNumber(_ value: Any?) -> Bool {
    guard let n = value as? NSNumber, !(value is Bool && n.objCType.pointee == UInt8(ascii: "c")) else { return false }
    return true
  }
}
