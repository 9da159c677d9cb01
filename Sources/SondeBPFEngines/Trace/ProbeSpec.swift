import SondeSystem

/// One probe as a user writes it, in the grammar every `sonde trace` subcommand shares:
///
///     tracepoint:SUBSYSTEM:EVENT     (t:…; globs in either part: tracepoint:syscalls:sys_enter_*)
///     rawtp:EVENT                    (raw tracepoint: the arguments as the kernel passes them)
///     uprobe:BINARY:SYMBOL[+OFFSET]  (u:…; uretprobe:/ur: for the return)
///     usdt:BINARY:PROVIDER:NAME      (U:…)
///     kprobe:FUNCTION[+OFFSET]       (k:…; kretprobe:/kr: for the return)
///     fentry:FUNCTION / fexit:FUNCTION  (f:… / fr:…)
///
/// BINARY is a path, a library name the dynamic loader would find (`libc.so.6`, `libc`), or a program on
/// PATH; SYMBOL is mangled or demangled (Swift, C++, Rust), and may contain `::`.
public enum ProbeSpec: Sendable, Hashable, CustomStringConvertible {
  case tracepoint(subsystem: String, event: String)
  case rawTracepoint(String)
  case uprobe(binary: String, symbol: String, offset: UInt64, isReturn: Bool)
  case usdt(binary: String, provider: String, name: String)
  case kprobe(function: String, offset: UInt64, isReturn: Bool)
  case fentry(function: String, isExit: Bool)

  /// Parses one probe, or explains what is wrong with it.
  public static func parse(_ text: String) throws(SondeError) -> ProbeSpec {
    let operation = "parse probe '\(text)'"
    guard let colon = text.firstIndex(of: ":") else {
      throw SondeError.invalid(operation, "a probe is KIND:WHERE", remedy: Self.grammar)
    }
    let kind = String(text[..<colon])
    let rest = String(text[text.index(after: colon)...])
    func need(_ ok: Bool, _ shape: String) throws(SondeError) {
      if !ok { throw SondeError.invalid(operation, "expected \(shape)", remedy: Self.grammar) }
    }
    switch kind {
    case "tracepoint", "t":
      let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
      try need(parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty, "tracepoint:SUBSYSTEM:EVENT")
      return .tracepoint(subsystem: String(parts[0]), event: String(parts[1]))
    case "rawtp", "rawtracepoint", "rt":
      try need(!rest.isEmpty && !rest.contains(":"), "rawtp:EVENT")
      return .rawTracepoint(rest)
    case "uprobe", "u", "uretprobe", "ur":
      guard let split = rest.firstIndex(of: ":") else {
        try need(false, "\(kind):BINARY:SYMBOL")
        fatalError("unreachable")
      }
      let binary = String(rest[..<split])
      let (symbol, offset) = try symbolAndOffset(String(rest[rest.index(after: split)...]), operation)
      try need(!binary.isEmpty && !symbol.isEmpty, "\(kind):BINARY:SYMBOL")
      return .uprobe(binary: binary, symbol: symbol, offset: offset, isReturn: kind.hasPrefix("ur"))
    case "usdt", "U":
      let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
      try need(parts.count == 3 && parts.allSatisfy { !$0.isEmpty }, "usdt:BINARY:PROVIDER:NAME")
      return .usdt(binary: String(parts[0]), provider: String(parts[1]), name: String(parts[2]))
    case "kprobe", "k", "kretprobe", "kr":
      let (function, offset) = try symbolAndOffset(rest, operation)
      try need(!function.isEmpty && !function.contains(":"), "\(kind):FUNCTION[+OFFSET]")
      return .kprobe(function: function, offset: offset, isReturn: kind.hasPrefix("kr"))
    case "fentry", "f", "fexit", "fr":
      try need(!rest.isEmpty && !rest.contains(":") && !rest.contains("+"), "\(kind):FUNCTION")
      return .fentry(function: rest, isExit: kind == "fexit" || kind == "fr")
    default:
      let kinds = ["tracepoint", "rawtp", "uprobe", "uretprobe", "usdt", "kprobe", "kretprobe", "fentry", "fexit"]
      let close = closeMatches(to: kind, in: kinds)
      throw SondeError.invalid(
        operation,
        "unknown probe kind '\(kind)'" + (close.isEmpty ? "" : " (did you mean \(close.joined(separator: ", "))?)"),
        remedy: Self.grammar)
    }
  }

  /// `name+0x10` → ("name", 16); a `+` whose tail is not a number is part of the name (`operator+`).
  static func symbolAndOffset(_ text: String, _ operation: String) throws(SondeError) -> (String, UInt64) {
    guard let plus = text.lastIndex(of: "+") else { return (text, 0) }
    let tail = text[text.index(after: plus)...]
    let value = tail.hasPrefix("0x") ? UInt64(tail.dropFirst(2), radix: 16) : UInt64(tail)
    guard let value, !tail.isEmpty else { return (text, 0) }
    return (String(text[..<plus]), value)
  }

  /// The grammar, for error messages.
  public static let grammar =
    "probes: tracepoint:SUBSYSTEM:EVENT, rawtp:EVENT, uprobe:BINARY:SYMBOL[+OFF], uretprobe:BINARY:SYMBOL, "
    + "usdt:BINARY:PROVIDER:NAME, kprobe:FUNC[+OFF], kretprobe:FUNC, fentry:FUNC, fexit:FUNC"

  public var description: String {
    switch self {
    case .tracepoint(let s, let e): "tracepoint:\(s):\(e)"
    case .rawTracepoint(let e): "rawtp:\(e)"
    case .uprobe(let b, let s, let o, let r): "\(r ? "uretprobe" : "uprobe"):\(b):\(s)\(o == 0 ? "" : "+\(o)")"
    case .usdt(let b, let p, let n): "usdt:\(b):\(p):\(n)"
    case .kprobe(let f, let o, let r): "\(r ? "kretprobe" : "kprobe"):\(f)\(o == 0 ? "" : "+\(o)")"
    case .fentry(let f, let exit): "\(exit ? "fexit" : "fentry"):\(f)"
    }
  }

  /// Whether the probe fires where a function returns (its return value is readable).
  public var isReturn: Bool {
    switch self {
    case .uprobe(_, _, _, let r), .kprobe(_, _, let r): r
    case .fentry(_, let exit): exit
    case .tracepoint(_, let event): event.hasPrefix("sys_exit")
    default: false
    }
  }
}
