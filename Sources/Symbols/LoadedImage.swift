import SondeSystem

/// A module ready for lookups: its ELF image, its separate debug file if one was found, the merged
/// symbol table, and a cache of demangled names. Shared by every process that maps the same binary.
public final class LoadedImage: Sendable {
  public let elf: ELFFile
  /// The separate debug file (found by build-id or debuglink) when the image itself is stripped.
  public let debugFile: ELFFile?
  public let symbols: SymbolTable
  private let demangleCache = Locked<[String: String?]>([:])

  init(elf: ELFFile, locator: DebugFileLocator?, targetPath: String) {
    self.elf = elf
    var debug: ELFFile?
    if !elf.hasSymtab, let locator { debug = locator.locate(for: elf, binaryPath: targetPath) }
    debugFile = debug
    if let debug {
      symbols = SymbolTable(merging: elf.symbolTable(), debug.symbolTable())
    } else {
      symbols = elf.symbolTable()
    }
  }

  /// Approximate heap bytes of the symbol table, for the cache's memory bound.
  public var approximateBytes: Int { symbols.approximateBytes }

  /// The demangled name of `symbol` (cached per image).
  func demangle(_ symbol: String, with demangler: Demangler) -> String? {
    if let cached = demangleCache.withLock({ $0[symbol] }) { return cached }
    let result = demangler.demangle(symbol)
    demangleCache.withLock { $0[symbol] = result }
    return result
  }

  /// The frame for ELF virtual address `vaddr` in this image.
  func frame(
    address: UInt64, vaddr: UInt64, module: String, deleted: Bool, demangler: Demangler?
  ) -> SymbolizedFrame {
    guard let symbol = symbols.lookup(vaddr) else {
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: module, moduleOffset: vaddr, moduleDeleted: deleted,
        buildID: elf.buildIDHex)
    }
    return SymbolizedFrame(
      address: address, status: .resolved, symbol: symbol.name,
      demangled: demangler.flatMap { demangle(symbol.name, with: $0) }, symbolOffset: vaddr - symbol.address,
      module: module, moduleOffset: vaddr, moduleDeleted: deleted, buildID: elf.buildIDHex)
  }
}
