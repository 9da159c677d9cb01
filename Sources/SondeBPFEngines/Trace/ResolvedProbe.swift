import PerfEvents
import SondeSystem
import Symbols

/// A probe made concrete: a tracepoint glob expanded to one tracepoint (with its record format), a binary
/// found and a symbol turned into a file offset. Each has an index: the BPF cookie its hits carry.
public struct ResolvedProbe: Sendable, Hashable {
  /// Where it attaches.
  public enum Place: Sendable, Hashable {
    case tracepoint(subsystem: String, event: String)
    case rawTracepoint(String)
    case uprobe(path: String, offset: UInt64, isReturn: Bool)
    case usdt(path: String, provider: String, name: String)
    case kprobe(function: String, offset: UInt64, isReturn: Bool)
    case fentry(function: String, isExit: Bool)
  }

  public var place: Place
  /// How output names it: `syscalls:sys_enter_getpid`, `uprobe:/usr/bin/demo:demo_hot`, `usdt:…`.
  public var label: String
  public var isExit: Bool
  /// A tracepoint's record layout (nil for the other kinds).
  public var format: TracepointFormat?
  /// Fields of the record that pair an entry with its exit (latency mode; empty: the current thread).
  public var pairFields: [TracepointFormat.Field] = []

  /// Whether the kind is one of those bound to a fixed program (raw_tp, fentry/fexit: no cookie).
  var usesFixedProgram: Bool {
    switch place {
    case .rawTracepoint, .fentry: true
    default: false
    }
  }
}

/// Turns probe specs into attachable probes, or explains which one cannot be found and what is close.
enum ProbeResolver {
  static func resolve(_ probes: [TraceOptions.Probe], pid: Int32?) throws(SondeError) -> [ResolvedProbe] {
    var resolved: [ResolvedProbe] = []
    var cache: [String: ELFFile] = [:]
    for probe in probes {
      let isExit = probe.isExit
      switch probe.spec {
      case .tracepoint(let subsystem, let event):
        for name in try tracepoints(subsystem: subsystem, event: event) {
          let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
          let format = try TracepointFormat.load(subsystem: parts[0], event: parts[1])
          var pairFields: [TracepointFormat.Field] = []
          for fieldName in probe.pairFields.prefix(2) {
            guard let field = format.field(named: fieldName) else {
              throw SondeError.invalid(
                "pair \(name) by \(fieldName)", "the tracepoint has no field '\(fieldName)'",
                remedy: "its fields: \(format.arguments.map(\.name).joined(separator: ", "))")
            }
            pairFields.append(field)
          }
          resolved.append(
            ResolvedProbe(
              place: .tracepoint(subsystem: parts[0], event: parts[1]), label: name, isExit: isExit, format: format,
              pairFields: pairFields))
        }
      case .rawTracepoint(let event):
        resolved.append(ResolvedProbe(place: .rawTracepoint(event), label: "rawtp:\(event)", isExit: isExit))
      case .uprobe(let binary, let symbol, let offset, let isReturn):
        let path = try BinaryLocator.locate(binary, pid: pid)
        let elf: ELFFile
        if let known = cache[path] {
          elf = known
        } else {
          elf = try ELFFile.open(path: path)
          cache[path] = elf
        }
        let target = try elf.probeTarget(named: symbol)
        let (place, overflow) = target.fileOffset.addingReportingOverflow(offset)
        if overflow { throw SondeError.invalid("probe \(probe.spec)", "the offset +\(offset) overflows") }
        let kind = isReturn ? "uretprobe" : "uprobe"
        resolved.append(
          ResolvedProbe(
            place: .uprobe(path: path, offset: place, isReturn: isReturn),
            label: "\(kind):\(path):\(target.displayName)\(offset == 0 ? "" : "+\(offset)")", isExit: isExit))
      case .usdt(let binary, let provider, let name):
        let path = try BinaryLocator.locate(binary, pid: pid)
        resolved.append(
          ResolvedProbe(
            place: .usdt(path: path, provider: provider, name: name), label: "usdt:\(path):\(provider):\(name)",
            isExit: isExit))
      case .kprobe(let function, let offset, let isReturn):
        resolved.append(
          ResolvedProbe(
            place: .kprobe(function: function, offset: offset, isReturn: isReturn), label: probe.spec.description,
            isExit: isExit))
      case .fentry(let function, let isExit2):
        resolved.append(
          ResolvedProbe(
            place: .fentry(function: function, isExit: isExit2), label: probe.spec.description, isExit: isExit))
      }
    }
    return resolved
  }

  /// The tracepoints `subsystem:event` names (globs expanded), or an error suggesting close names.
  static func tracepoints(subsystem: String, event: String) throws(SondeError) -> [String] {
    let name = "\(subsystem):\(event)"
    let isGlob = name.contains { "*?[".contains($0) }
    if !isGlob {
      _ = try TraceFS.tracepointID(subsystem: subsystem, event: event)  // explains a missing one
      return [name]
    }
    let operation = "resolve tracepoint '\(name)'"
    guard TraceFS.root != nil else { throw TraceFS.notMounted(operation) }
    let matches = TraceFS.tracepoints(matching: name).sorted()
    if matches.isEmpty {
      let close = closeMatches(to: name, in: TraceFS.tracepoints())
      throw SondeError(
        .invalidInput, operation: operation, reason: "no tracepoint matches",
        remedy: close.isEmpty
          ? "list tracepoints with 'sonde list tracepoint'" : "did you mean \(close.joined(separator: ", "))?")
    }
    return matches
  }
}
