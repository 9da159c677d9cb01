/// Which processes' samples a query keeps: space-separated terms `key:value` (key one of pid, comm, exe,
/// container, unit, cgroup) and bare words, which match a process's comm or executable as a substring.
/// Terms of one key are alternatives (`pid:1 pid:2`); terms of different keys must all hold. Values of
/// comm, exe, container, unit and cgroup match as substrings; pid exactly. Empty: everything.
public struct ProfileFilter: Sendable, Hashable {
  public enum Key: String, Sendable, CaseIterable {
    case pid, comm, exe, container, unit, cgroup, word
  }
  /// Alternatives per key.
  public private(set) var terms: [Key: [String]] = [:]

  public init() {}

  /// Parses `text`; an unknown key is an error naming the keys there are.
  public init(parsing text: String) throws(ProfileFilterError) {
    for term in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "+" }) {
      if let colon = term.firstIndex(of: ":") {
        let name = String(term[..<colon])
        guard let key = Key(rawValue: name), key != .word else { throw ProfileFilterError(term: String(term)) }
        let value = String(term[term.index(after: colon)...])
        if key == .pid && Int32(value) == nil { throw ProfileFilterError(term: String(term)) }
        terms[key, default: []].append(value)
      } else {
        terms[.word, default: []].append(String(term))
      }
    }
  }

  public var isEmpty: Bool { terms.isEmpty }

  /// Whether a process with `labels` passes.
  public func accepts(_ labels: ProcessLabels) -> Bool {
    for (key, values) in terms {
      let passes = values.contains { value in
        switch key {
        case .pid: return Int32(value) == labels.pid
        case .comm: return labels.comm.contains(value)
        case .exe: return labels.exe.contains(value)
        case .container: return labels.container.contains(value)
        case .unit: return labels.unit.contains(value)
        case .cgroup: return labels.cgroup.contains(value)
        case .word: return labels.comm.contains(value) || labels.exe.contains(value)
        }
      }
      if !passes { return false }
    }
    return true
  }
}

/// A filter term with an unknown key or a pid that is not a number.
public struct ProfileFilterError: Error, CustomStringConvertible {
  public var term: String
  public var description: String {
    "bad filter term '\(term)': use key:value with key one of pid, comm, exe, container, unit, cgroup, or a bare word"
  }
}
