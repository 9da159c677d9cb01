import SondeSystem

/// A module ready for lookups: its ELF image, its separate debug file if one was found, the merged
/// symbol table, and the names of the symbols looked up so far. Shared by every process that maps the
/// same binary.
public final class LoadedImage: Sendable {
  public let elf: ELFFile
  /// The separate debug file (found by build-id or debuglink) when the image itself is stripped.
  public let debugFile: ELFFile?
  public let symbols: SymbolTable
  /// A symbol's name and demangled name, by its index in `symbols`, once a frame has named it: a profile
  /// symbolizes the same hot functions every drain, and a table keeps its names in the file.
  private let names = Locked<[Int: Named]>([:])
  /// Whether the file's pages were read (loading the image, or a name) since `releaseFilePages` last ran.
  private let filePagesRead = Locked(true)

  private struct Named {
    var name: String
    var demangled: String?
    /// Whether `demangled` was asked for (a frame without a demangler leaves it to the next that has one).
    var demangling: Bool
  }

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

  /// Drops the file pages read since the last call (loading the image read its headers, a name read its
  /// string table): each name read is kept (`names`), and every read maps the 64 KiB around it (the
  /// kernel's fault-around), so over a day a continuous profiler would hold the headers of every binary it
  /// ever loaded and much of every string table it named a frame from.
  func releaseFilePages() {
    let read = filePagesRead.withLock { read in
      defer { read = false }
      return read
    }
    guard read else { return }
    symbols.releaseFilePages()
  }

  /// The frame for ELF virtual address `vaddr` in this image.
  func frame(
    address: UInt64, vaddr: UInt64, module: String, deleted: Bool, demangler: Demangler?
  ) -> SymbolizedFrame {
    guard let index = symbols.lookupIndex(vaddr) else {
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: module, moduleOffset: vaddr, moduleDeleted: deleted,
        buildID: elf.buildIDHex)
    }
    var named =
      names.withLock { $0[index] }
      ?? {
        filePagesRead.withLock { $0 = true }
        return Named(name: symbols.symbols[index].name, demangled: nil, demangling: false)
      }()
    if let demangler, !named.demangling {
      named.demangled = demangler.demangle(named.name)
      named.demangling = true
      names.withLock { $0[index] = named }
    } else if demangler == nil {
      names.withLock { if $0[index] == nil { $0[index] = named } }
    }
    return SymbolizedFrame(
      address: address, status: .resolved, symbol: named.name, demangled: demangler == nil ? nil : named.demangled,
      symbolOffset: vaddr - symbols.address(at: index), module: module, moduleOffset: vaddr, moduleDeleted: deleted,
      buildID: elf.buildIDHex)
  }
}
