import SondeSystem

extension ELFFile {
  /// A function to probe, found by its mangled name or by a demangled form of it.
  public struct ProbeTarget: Sendable, Hashable {
    /// The symbol as stored (mangled).
    public var symbol: String
    /// How Sonde prints it (`Matrix.reduce(rounds:)`, `ns::f`).
    public var displayName: String
    /// The file offset a uprobe attaches at.
    public var fileOffset: UInt64
  }

  /// The defined function `name` names: a symbol of exactly that name, else the one whose demangled form
  /// is `name` — the short form profiles print (`Matrix.reduce(rounds:)`, `ns::f`) or the full one
  /// (`Module.Matrix.reduce(rounds: Swift.Int) -> Swift.UInt64`, `ns::f(int)`). Several functions with that
  /// demangled name are an error listing them; no match is an error naming the closest functions.
  public func probeTarget(named name: String, demangler: Demangler = Demangler()) throws(SondeError) -> ProbeTarget {
    let operation = "find function '\(name)' in \(path)"
    let functions = try allSymbols().filter {
      $0.sectionIndex != 0 && $0.address != 0 && ($0.kind == .function || $0.kind == .gnuIndirect)
    }
    func target(_ s: ELFSymbol) throws(SondeError) -> ProbeTarget {
      guard let offset = fileOffset(forVirtualAddress: s.address) else {
        throw SondeError(
          .corruptData, operation: operation,
          reason: "\(s.name) at 0x\(String(s.address, radix: 16)) lies in no PT_LOAD segment")
      }
      return ProbeTarget(symbol: s.name, displayName: demangler.perfName(s.name), fileOffset: offset)
    }
    if let exact = functions.first(where: { $0.name == name }) { return try target(exact) }
    // One entry per address: .symtab and .dynsym list exported functions twice.
    var byAddress: [UInt64: ELFSymbol] = [:]
    var shortNames: [String] = []
    for s in functions {
      let short = demangler.perfName(s.name)
      shortNames.append(short)
      if short == name || demangler.displayName(s.name) == name { byAddress[s.address] = byAddress[s.address] ?? s }
    }
    let matches = byAddress.values.sorted { $0.address < $1.address }
    if matches.count == 1 { return try target(matches[0]) }
    if matches.count > 1 {
      let list = matches.prefix(10).map { "\($0.name) (\(demangler.displayName($0.name)))" }
      throw SondeError.invalid(
        operation, "'\(name)' names \(matches.count) functions:\n  " + list.joined(separator: "\n  "),
        remedy: "give the mangled name of the one to probe")
    }
    let close = closeMatches(to: name, in: Array(Set(shortNames)), limit: 5)
    throw SondeError(
      .invalidInput, operation: operation,
      reason: "no function '\(name)' in \(path)"
        + (close.isEmpty ? "" : "; close names: " + close.joined(separator: ", ")),
      remedy: "list its functions with 'nm -C \(path)'; static functions need an unstripped binary")
  }
}
