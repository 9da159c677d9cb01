import PerfEvents

/// The kernel's symbol table from `/proc/kallsyms`: loaded once, sorted, binary-searched.
///
/// kallsyms has no sizes, so a symbol extends to the next one. Addresses read as zero when
/// `kernel.kptr_restrict` hides them from unprivileged readers; `isRestricted` reports that.
public struct KernelSymbols: Sendable {
  /// One kallsyms entry.
  public struct Symbol: Sendable, Hashable {
    public var address: UInt64
    /// The nm-style type letter (`T`, `t`, `W`, …).
    public var type: Character
    public var name: String
    /// The module name for symbols of loadable modules (`[ext4]` without brackets), nil for vmlinux.
    public var module: String?
  }

  /// Text symbols sorted by address.
  public let symbols: [Symbol]
  /// True when every address was zero (kptr_restrict).
  public let isRestricted: Bool

  /// Parses kallsyms text, keeping code symbols (types t/T/w/W).
  public init(parsing text: String) {
    var result: [Symbol] = []
    var nonZero = false
    for line in text.split(separator: "\n") {
      // `address type name`, then `\t[module]` for module symbols.
      let fields = line.split(maxSplits: 3, omittingEmptySubsequences: true) { $0 == " " || $0 == "\t" }
      guard fields.count >= 3, let address = UInt64(fields[0], radix: 16), let type = fields[1].first else {
        continue
      }
      if address != 0 { nonZero = true }
      guard "tTwW".contains(type) else { continue }
      var module: String?
      if fields.count == 4 {
        let text = fields[3].trimmingWhitespace()
        if text.hasPrefix("[") && text.hasSuffix("]") { module = String(text.dropFirst().dropLast()) }
      }
      result.append(Symbol(address: address, type: type, name: String(fields[2]), module: module))
    }
    symbols = result.sorted { $0.address < $1.address }
    isRestricted = !nonZero && !result.isEmpty
  }

  /// Reads `/proc/kallsyms`.
  public static func load(path: String = "/proc/kallsyms") throws(SondeError) -> KernelSymbols {
    guard let text = readSmallFile(path) else {
      throw SondeError(
        .permissionDenied, operation: "read \(path)", reason: "cannot read the kernel symbol table",
        remedy: "run as root, or lower kernel.kptr_restrict")
    }
    return KernelSymbols(parsing: text)
  }

  /// The symbol whose range contains `address`, and the offset into it.
  public func lookup(_ address: UInt64) -> (symbol: Symbol, offset: UInt64)? {
    guard !isRestricted else { return nil }
    var low = 0
    var high = symbols.count
    while low < high {
      let mid = (low + high) / 2
      if symbols[mid].address <= address { low = mid + 1 } else { high = mid }
    }
    guard low > 0 else { return nil }
    let symbol = symbols[low - 1]
    // kallsyms has no sizes: the last symbol of the table or of a module extends to the next symbol, so
    // bound it (1 MiB) rather than attributing the rest of the address space to it.
    let isLastOfItsText = low == symbols.count || symbols[low].module != symbol.module
    if isLastOfItsText && address - symbol.address >= 1 << 20 { return nil }
    return (symbol, address - symbol.address)
  }
}
