/// The BPF verifier's log for one program, and the line that says why it rejected the program.
public struct VerifierLog: Sendable, Equatable, CustomStringConvertible {
  /// Every line the verifier wrote.
  public var lines: [String]

  public init(_ text: String) {
    lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
  }

  /// The verifier's reason: the last line before the "processed N insns" summary that is not an
  /// instruction dump or a source annotation (e.g. "invalid access to map value, value_size=8 off=8 size=8").
  public var reason: String? {
    var candidates = lines
    while let last = candidates.last, last.hasPrefix("processed ") || last.hasPrefix("verification time") {
      candidates.removeLast()
    }
    // The first line after the last instruction/annotation line is the verdict; later lines elaborate.
    var index = candidates.count - 1
    while index >= 0, !Self.isInstruction(candidates[index]) { index -= 1 }
    if index + 1 < candidates.count { return candidates[index + 1] }
    return candidates.last
  }

  /// The last `count` lines: what an error shows by default.
  public func tail(_ count: Int) -> [String] { Array(lines.suffix(count)) }

  public var description: String { lines.joined(separator: "\n") }

  /// Whether a log line is an instruction dump ("12: (79) r1 = …") or a source annotation ("; x = y").
  static func isInstruction(_ line: Substring.SubSequence) -> Bool {
    isInstruction(String(line))
  }

  static func isInstruction(_ line: String) -> Bool {
    if line.hasPrefix(";") { return true }
    guard let colon = line.firstIndex(of: ":") else { return false }
    let head = line[..<colon]
    return !head.isEmpty && head.allSatisfy(\.isNumber)
  }
}
