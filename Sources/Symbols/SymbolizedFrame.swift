/// The answer for one address: the function containing it (mangled and demangled), the module, and offsets.
///
/// An address is never dropped: when no symbol covers it the frame still names the module (or the kind of
/// memory) and the offset into it, and renders as `[unknown]`.
public struct SymbolizedFrame: Sendable, Hashable, CustomStringConvertible {
  /// How much is known about the address.
  public enum Status: String, Sendable, Hashable {
    /// A symbol contains the address.
    case resolved
    /// The address is in a known module, but no symbol covers it.
    case noSymbol
    /// The module could not be opened or parsed (`detail` says why).
    case moduleUnreadable
    /// No mapping (or kernel symbol) contains the address.
    case unmapped
  }

  /// The address that was asked about (runtime address, or ELF virtual address for file lookups).
  public var address: UInt64
  public var status: Status
  /// The symbol name as stored in the binary (mangled), when resolved.
  public var symbol: String?
  /// The demangled name, when the symbol is mangled in a known scheme.
  public var demangled: String?
  /// `address - symbol start`, when resolved.
  public var symbolOffset: UInt64
  /// The module's path (`/usr/lib/libc.so.6`), `[vdso]`, `[kernel.kallsyms]`, a kernel module name
  /// (`[ext4]`), `[JIT] tid`, `[heap]` …; nil when unmapped.
  public var module: String?
  /// The address relative to the module: ELF virtual address for ELF images, offset into the mapping otherwise.
  public var moduleOffset: UInt64
  /// The mapped file has been deleted or replaced since the process mapped it.
  public var moduleDeleted: Bool
  /// The module's GNU build-id (hex), when known.
  public var buildID: String?
  /// Why the module could not be read, for `.moduleUnreadable`.
  public var detail: String?

  public init(
    address: UInt64, status: Status, symbol: String? = nil, demangled: String? = nil, symbolOffset: UInt64 = 0,
    module: String? = nil, moduleOffset: UInt64 = 0, moduleDeleted: Bool = false, buildID: String? = nil,
    detail: String? = nil
  ) {
    self.address = address
    self.status = status
    self.symbol = symbol
    self.demangled = demangled
    self.symbolOffset = symbolOffset
    self.module = module
    self.moduleOffset = moduleOffset
    self.moduleDeleted = moduleDeleted
    self.buildID = buildID
    self.detail = detail
  }

  /// The function name to show: demangled if possible, else the raw symbol, else `[unknown]`.
  public var name: String { demangled ?? symbol ?? "[unknown]" }

  /// The last path component of the module, for compact display.
  public var moduleName: String? {
    guard let module else { return nil }
    if module.hasPrefix("[") { return module }
    return module.split(separator: "/").last.map(String.init) ?? module
  }

  /// `name+0x1f (libc.so.6)` when resolved, `[unknown] (libc.so.6+0x1234)` otherwise.
  public var description: String {
    let deleted = moduleDeleted ? " (deleted)" : ""
    switch status {
    case .resolved:
      let offset = symbolOffset == 0 ? "" : "+0x" + String(symbolOffset, radix: 16)
      return "\(name)\(offset) (\(moduleName ?? "?")\(deleted))"
    case .noSymbol, .moduleUnreadable:
      return "[unknown] (\(moduleName ?? "?")+0x\(String(moduleOffset, radix: 16))\(deleted))"
    case .unmapped:
      return "[unknown] (0x\(String(address, radix: 16)))"
    }
  }
}
