import CSonde
import SondeSystem

/// Parses perf's event grammar (`-e`): generic hardware/software names, hardware-cache names, raw `rNNN`,
/// tracepoints with globs, dynamic PMUs (`pmu/term=value,…/`), breakpoints (`mem:ADDR[/LEN][:rwx]`),
/// modifiers (`:u`, `:k`, `:ppp`, …) and groups (`{a,b}:mods`).
public struct EventParser: Sendable {
  /// Where PMUs are read from (a test can point this at a fake sysfs tree).
  public var pmuRoot: String

  public init(pmuRoot: String = PMU.devicesPath) {
    self.pmuRoot = pmuRoot
  }

  /// Parses a comma-separated event list into groups (a lone event is a group of one).
  public func parse(_ text: String) throws(SondeError) -> [EventGroup] {
    var groups: [EventGroup] = []
    for token in try Self.splitTopLevel(text) {
      if token.hasPrefix("{") {
        groups.append(try parseGroup(token))
      } else {
        groups.append(contentsOf: try parseEvent(token).map { EventGroup(events: [$0], isExplicitGroup: false) })
      }
    }
    if groups.isEmpty { throw .invalid("parse events", "no event given") }
    return groups
  }

  /// Parses a list of `-e` arguments (each possibly comma-separated).
  public func parse(_ lists: [String]) throws(SondeError) -> [EventGroup] {
    var groups: [EventGroup] = []
    for list in lists { groups += try parse(list) }
    return groups
  }

  private func parseGroup(_ token: String) throws(SondeError) -> EventGroup {
    guard let close = token.lastIndex(of: "}") else {
      throw .invalid("parse events", "unbalanced '{' in '\(token)'")
    }
    let inner = String(token[token.index(after: token.startIndex)..<close])
    let suffix = token[token.index(after: close)...]
    var groupModifiers: Substring = ""
    if !suffix.isEmpty {
      guard suffix.hasPrefix(":") else { throw .invalid("parse events", "unexpected '\(suffix)' after group") }
      groupModifiers = suffix.dropFirst()
    }
    var members: [EventSpec] = []
    for memberText in try Self.splitTopLevel(inner) {
      if memberText.hasPrefix("{") { throw .invalid("parse events", "groups cannot be nested: '\(token)'") }
      var specs = try parseEvent(memberText)
      if !groupModifiers.isEmpty {
        for i in specs.indices {
          specs[i].modifiers = try EventModifiers.parse(
            modifierLetters(of: specs[i].name) + groupModifiers, event: token)
          specs[i].name += ":" + groupModifiers
        }
      }
      members += specs
    }
    if members.isEmpty { throw .invalid("parse events", "empty group '\(token)'") }
    return EventGroup(events: members, isExplicitGroup: true)
  }

  private func modifierLetters(of name: String) -> Substring {
    if name.hasPrefix("mem:") || name.contains("/") { return "" }
    let parts = name.split(separator: ":")
    let isTracepoint =
      parts.count >= 2 && EventCatalog.generic(named: String(parts[0])) == nil
      && EventCatalog.cacheConfig(named: String(parts[0])) == nil && !Self.isRaw(parts[0])
    let index = isTracepoint ? 2 : 1
    return parts.count > index ? parts[index] : ""
  }

  /// Parses one event (a tracepoint glob may expand to several).
  public func parseEvent(_ token: String) throws(SondeError) -> [EventSpec] {
    let text = token.trimmingWhitespace()
    if text.isEmpty { throw .invalid("parse events", "empty event name") }
    if text.hasPrefix("mem:") { return [try parseBreakpoint(text)] }
    if let slash = text.firstIndex(of: "/") { return [try parsePMUEvent(text, slash: slash)] }

    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    let base = String(parts[0])
    if let entry = EventCatalog.generic(named: base) {
      return [try withModifiers(EventSpec(name: text, type: entry.type, config: entry.config), parts.dropFirst(), text)]
    }
    if let config = EventCatalog.cacheConfig(named: base) {
      return [
        try withModifiers(
          EventSpec(name: text, type: PERF_TYPE_HW_CACHE.rawValue, config: config), parts.dropFirst(), text)
      ]
    }
    if Self.isRaw(parts[0]), let config = UInt64(parts[0].dropFirst(), radix: 16) {
      return [
        try withModifiers(EventSpec(name: text, type: PERF_TYPE_RAW.rawValue, config: config), parts.dropFirst(), text)
      ]
    }
    if parts.count >= 2 { return try parseTracepoint(parts, text: text) }
    throw unknownEvent(text)
  }

  private static func isRaw(_ text: Substring) -> Bool {
    text.count > 1 && text.first == "r" && text.dropFirst().allSatisfy(\.isHexDigit)
  }

  private func withModifiers(_ spec: EventSpec, _ rest: ArraySlice<Substring>, _ text: String) throws(SondeError)
    -> EventSpec
  {
    var spec = spec
    guard rest.count <= 1 else { throw .invalid("parse event '\(text)'", "too many ':' in event name") }
    if let letters = rest.first { spec.modifiers = try EventModifiers.parse(letters, event: text) }
    spec.unit = spec.isClock ? "msec" : ""
    return spec
  }

  private func parseTracepoint(_ parts: [Substring], text: String) throws(SondeError) -> [EventSpec] {
    guard parts.count <= 3 else { throw .invalid("parse event '\(text)'", "too many ':' in event name") }
    let system = String(parts[0])
    let event = String(parts[1])
    let modifierText: ArraySlice<Substring> = parts.count == 3 ? [parts[2]] : []
    if isGlob(system) || isGlob(event) {
      let names = TraceFS.tracepoints(matching: "\(system):\(event)")
      if names.isEmpty {
        if TraceFS.root == nil { throw TraceFS.notMounted("parse event '\(text)'") }
        throw .invalid(
          "parse event '\(text)'", "no tracepoint matches '\(system):\(event)'",
          remedy: "list tracepoints with 'sonde list tracepoint'")
      }
      var specs: [EventSpec] = []
      for name in names {
        let pieces = name.split(separator: ":")
        let id = try TraceFS.tracepointID(subsystem: String(pieces[0]), event: String(pieces[1]))
        specs.append(
          try withModifiers(EventSpec(name: name, type: PERF_TYPE_TRACEPOINT.rawValue, config: id), modifierText, text))
      }
      return specs
    }
    if TraceFS.root != nil && !fileExists("\(TraceFS.root!)/events/\(system)") {
      // Not a tracepoint subsystem either: most likely a mistyped generic name with a modifier.
      if EventCatalog.generic(named: system) == nil && !TraceFS.subsystems().contains(system) {
        throw unknownEvent(text)
      }
    }
    let id = try TraceFS.tracepointID(subsystem: system, event: event)
    var spec = try withModifiers(
      EventSpec(name: "\(system):\(event)", type: PERF_TYPE_TRACEPOINT.rawValue, config: id), modifierText, text)
    spec.name = text
    return [spec]
  }

  private func parseBreakpoint(_ text: String) throws(SondeError) -> EventSpec {
    let operation = "parse breakpoint '\(text)'"
    let parts = text.dropFirst(4).split(separator: ":", omittingEmptySubsequences: false)
    let addressAndLength = parts[0].split(separator: "/")
    guard let addressText = addressAndLength.first, let address = Self.parseNumber(addressText) else {
      throw .invalid(operation, "expected mem:ADDRESS[/LENGTH][:rwx]")
    }
    var access: UInt32 = 0
    var rest = parts.dropFirst()
    if let first = rest.first, !first.isEmpty, first.allSatisfy({ "rwx".contains($0) }) {
      if first.contains("r") { access |= UInt32(HW_BREAKPOINT_R) }
      if first.contains("w") { access |= UInt32(HW_BREAKPOINT_W) }
      if first.contains("x") { access |= UInt32(HW_BREAKPOINT_X) }
      rest = rest.dropFirst()
    }
    if access == 0 { access = UInt32(HW_BREAKPOINT_R | HW_BREAKPOINT_W) }
    if access & UInt32(HW_BREAKPOINT_X) != 0 && access != UInt32(HW_BREAKPOINT_X) {
      throw .invalid(operation, "an execute breakpoint cannot also watch reads or writes")
    }
    var length: UInt64 = access == UInt32(HW_BREAKPOINT_X) ? UInt64(MemoryLayout<Int>.size) : 4
    if addressAndLength.count == 2 {
      guard let l = Self.parseNumber(addressAndLength[1]), [1, 2, 4, 8].contains(l) else {
        throw .invalid(operation, "breakpoint length must be 1, 2, 4 or 8")
      }
      length = l
    }
    var spec = EventSpec(name: text, type: PERF_TYPE_BREAKPOINT.rawValue, config: 0)
    spec.breakpoint = .init(type: access, address: address, length: length)
    if rest.count > 1 { throw .invalid(operation, "too many ':' in event name") }
    if let letters = rest.first { spec.modifiers = try EventModifiers.parse(letters, event: text) }
    return spec
  }

  private func parsePMUEvent(_ text: String, slash: String.Index) throws(SondeError) -> EventSpec {
    let operation = "parse event '\(text)'"
    let pmuName = String(text[..<slash])
    let afterFirst = text.index(after: slash)
    guard let closing = text[afterFirst...].firstIndex(of: "/") else {
      throw .invalid(operation, "missing closing '/' (expected pmu/term=value,…/)")
    }
    guard let pmu = PMU.named(pmuName, root: pmuRoot) else {
      let names = listDirectory(pmuRoot)
      let suggestions = closeMatches(to: pmuName, in: names)
      throw SondeError(
        .invalidInput, operation: operation, reason: "no PMU named '\(pmuName)' in \(pmuRoot)",
        remedy: suggestions.isEmpty
          ? "PMUs here: \(names.joined(separator: ", "))" : "did you mean \(suggestions.joined(separator: ", "))?")
    }
    var spec = EventSpec(name: text, type: pmu.type, config: 0)
    try applyTerms(text[afterFirst..<closing], pmu: pmu, to: &spec, operation: operation, depth: 0)
    var modifierText = text[text.index(after: closing)...]
    if modifierText.hasPrefix(":") { modifierText = modifierText.dropFirst() }
    spec.modifiers = try EventModifiers.parse(modifierText, event: text)
    if pmu.type == PERF_TYPE_SOFTWARE.rawValue { spec.unit = spec.isClock ? "msec" : "" }
    return spec
  }

  private func applyTerms(
    _ terms: Substring, pmu: PMU, to spec: inout EventSpec, operation: String, depth: Int
  ) throws(SondeError) {
    for term in terms.split(separator: ",") {
      let pair = term.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let key = String(pair[0]).trimmingWhitespace()
      guard !key.isEmpty else { throw .invalid(operation, "a term has no name: '\(term)'") }
      var value: UInt64 = 1
      if pair.count == 2 {
        guard let parsed = Self.parseNumber(pair[1]) else {
          throw .invalid(operation, "value of '\(key)' is not a number: '\(pair[1])'")
        }
        value = parsed
      }
      switch key {
      case "config": spec.config = value
      case "config1": spec.config1 = value
      case "config2": spec.config2 = value
      case "period": spec.period = value
      case "freq": spec.frequency = value
      case "name": break
      default:
        if let field = pmu.formats[key] {
          switch field.word {
          case .config: try field.insert(value, into: &spec.config, field: key)
          case .config1: try field.insert(value, into: &spec.config1, field: key)
          case .config2: try field.insert(value, into: &spec.config2, field: key)
          case .config3: throw .invalid(operation, "config3 fields are not supported")
          }
        } else if pair.count == 1, let alias = pmu.events[key], depth == 0 {
          try applyTerms(Substring(alias), pmu: pmu, to: &spec, operation: operation, depth: 1)
        } else {
          let known =
            ["config", "config1", "config2", "period", "freq"] + pmu.formats.keys.sorted() + pmu.events.keys.sorted()
          let suggestions = closeMatches(to: key, in: known)
          throw SondeError(
            .invalidInput, operation: operation, reason: "PMU '\(pmu.name)' has no term or event '\(key)'",
            remedy: suggestions.isEmpty
              ? "terms: \(known.joined(separator: ", "))" : "did you mean \(suggestions.joined(separator: ", "))?")
        }
      }
    }
  }

  private func unknownEvent(_ text: String) -> SondeError {
    let base = String(text.split(separator: ":").first ?? Substring(text))
    var candidates = EventCatalog.allNames
    if text.contains(":") { candidates += TraceFS.tracepoints() }
    let suggestions = closeMatches(to: text.contains(":") ? text : base, in: candidates)
    return SondeError(
      .invalidInput, operation: "parse event '\(text)'", reason: "unknown event",
      remedy: suggestions.isEmpty
        ? "run 'sonde list' to see the events this machine offers"
        : "did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?")
  }

  /// Parses decimal or 0x-prefixed hexadecimal.
  static func parseNumber(_ text: Substring) -> UInt64? {
    let t = text.trimmingWhitespace()
    if t.hasPrefix("0x") || t.hasPrefix("0X") { return UInt64(t.dropFirst(2), radix: 16) }
    return UInt64(t)
  }

  /// Splits on commas that are not inside `{…}` or a PMU's `/…/` terms.
  static func splitTopLevel(_ text: String) throws(SondeError) -> [String] {
    var tokens: [String] = []
    var current = ""
    var depth = 0
    var inTerms = false
    for ch in text {
      switch ch {
      case "{":
        depth += 1
      case "}":
        depth -= 1
        if depth < 0 { throw .invalid("parse events", "unbalanced '}' in '\(text)'") }
      case "/":
        let tokenStart = current.drop { $0 == "{" || $0 == " " }
        let lastSegment = tokenStart.split(separator: ",", omittingEmptySubsequences: false).last ?? ""
        if !lastSegment.hasPrefix("mem:") { inTerms.toggle() }
      case ",":
        if depth == 0 && !inTerms {
          tokens.append(current)
          current = ""
          continue
        }
      default: break
      }
      current.append(ch)
    }
    if depth != 0 { throw .invalid("parse events", "unbalanced '{' in '\(text)'") }
    if inTerms { throw .invalid("parse events", "unterminated '/…/' in '\(text)'") }
    tokens.append(current)
    return tokens.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
  }
}
