import SondeSystem

extension ELFFile {
  /// Decodes one SHT_SYMTAB/SHT_DYNSYM section. Throws when the table or its string table lies past EOF.
  static func decodeSymbols(
    _ r: ByteReader, _ h: ELFHeader, _ sections: [ELFSection], _ table: ELFSection
  ) throws(SondeError) -> [ELFSymbol] {
    let entrySize: UInt64 = h.is64Bit ? 24 : 16
    guard table.type != ELFSection.SHT_NOBITS, table.size > 0 else { return [] }
    guard r.contains(offset: table.offset, size: table.size) else {
      throw corrupt("", "symbol table \(table.name) (\(table.size) bytes at \(table.offset)) extends past EOF")
    }
    guard Int(table.link) < sections.count else {
      throw corrupt("", "symbol table \(table.name) links to missing string table \(table.link)")
    }
    let strings = sections[Int(table.link)]
    guard strings.type != ELFSection.SHT_NOBITS, r.contains(offset: strings.offset, size: strings.size) else {
      throw corrupt("", "string table of \(table.name) extends past EOF")
    }
    let stringsEnd = strings.offset + strings.size
    let isDynamic = table.type == ELFSection.SHT_DYNSYM
    let count = table.size / entrySize
    var result: [ELFSymbol] = []
    // The count is bounded by the file's size; reserve no more than a large real table needs up front.
    result.reserveCapacity(Int(min(count, 1 << 20)))
    for index in 0..<count {
      let o = table.offset + index * entrySize
      let nameOffset = UInt64(try r.u32(o))
      let info: UInt8
      let shndx: UInt16
      let value: UInt64
      let size: UInt64
      if h.is64Bit {
        info = try r.u8(o + 4)
        shndx = try r.u16(o + 6)
        value = try r.u64(o + 8)
        size = try r.u64(o + 16)
      } else {
        value = UInt64(try r.u32(o + 4))
        size = UInt64(try r.u32(o + 8))
        info = try r.u8(o + 12)
        shndx = try r.u16(o + 14)
      }
      guard nameOffset < strings.size, let name = r.cString(strings.offset + nameOffset, limit: stringsEnd) else {
        continue
      }
      result.append(
        ELFSymbol(
          name: name, address: value, size: size, kind: ELFSymbol.Kind(rawValue: info & 0xf) ?? .other,
          binding: ELFSymbol.Binding(rawValue: info >> 4) ?? .other, sectionIndex: shndx, isDynamic: isDynamic))
    }
    return result
  }

  /// The code symbols of the image for address lookup. Corrupt tables are skipped (lookups then say
  /// [unknown]); `allSymbols()` reports the error instead.
  static func readSymbols(_ r: ByteReader, _ h: ELFHeader, _ sections: [ELFSection]) -> [ELFSymbol] {
    var result: [ELFSymbol] = []
    for section in sections where section.type == ELFSection.SHT_SYMTAB || section.type == ELFSection.SHT_DYNSYM {
      guard let symbols = try? decodeSymbols(r, h, sections, section) else { continue }
      for symbol in symbols where SymbolTable.isCode(symbol) || isCodeLabel(symbol, sections) {
        result.append(symbol)
      }
    }
    return result
  }

  /// Whether `symbol` is an assembly label in code: STT_NOTYPE, no size, defined in an executable section
  /// (SHF_EXECINSTR). Hand-written entry points such as ld.so's `_start` and `_dl_start_user` are only
  /// labels; perf (`elf_sym__is_label` in a text section) and llvm-symbolizer both name code after them.
  /// ARM/AArch64 mapping symbols (`$x`, `$d`, `$a`, `$t`) mark instruction sets, not functions.
  static func isCodeLabel(_ symbol: ELFSymbol, _ sections: [ELFSection]) -> Bool {
    guard symbol.kind == .none, symbol.size == 0, !symbol.name.isEmpty, !symbol.name.hasPrefix("$"),
      symbol.sectionIndex != 0, Int(symbol.sectionIndex) < sections.count
    else { return false }
    return sections[Int(symbol.sectionIndex)].flags & ELFSection.SHF_EXECINSTR != 0
  }
}

/// Function symbols sorted by address, answering "which function contains this address" by binary search.
///
/// When several symbols start at the same address (aliases such as `__libc_malloc`/`malloc`), one is kept,
/// preferring a sized function, then global over weak over local binding, then `.symtab` over `.dynsym`,
/// then the name without leading underscores — close to what llvm-symbolizer reports.
public struct SymbolTable: Sendable {
  /// Sorted by address, one per address.
  public let symbols: [ELFSymbol]
  /// Where perf names an address differently (its `choose_best_symbol` prefers the longer of two equally
  /// bound names: `cfree@GLIBC_2.2.5` over `free`): the alias perf shows, by index into `symbols`.
  private let perfAliases: [Int: ELFSymbol]
  /// For each index, the largest end address of any symbol at or before it (for nested symbols).
  private let maxEnd: [UInt64]
  /// Synthesized PLT stub symbols (`name@plt`), sorted: perf names stubs this way, llvm-symbolizer does not,
  /// so only `lookupAsPerf` consults them.
  public let pltStubs: [ELFSymbol]

  /// Whether a symbol describes code that lookups should consider.
  static func isCode(_ s: ELFSymbol) -> Bool {
    guard s.sectionIndex != 0, s.sectionIndex < 0xff00 || s.sectionIndex == 0xffff, !s.name.isEmpty else {
      return false
    }
    switch s.kind {
    case .function, .gnuIndirect: return true
    case .none: return s.size > 0
    default: return false
    }
  }

  public init(symbols input: [ELFSymbol], pltStubs: [ELFSymbol] = []) {
    self.pltStubs = pltStubs.sorted { $0.address < $1.address }
    // Sort by address only (cheap), then keep the preferred symbol of each run of equal addresses.
    let sorted = input.sorted { $0.address < $1.address }
    var unique: [ELFSymbol] = []
    unique.reserveCapacity(sorted.count)
    var aliases: [Int: ELFSymbol] = [:]
    var index = 0
    while index < sorted.count {
      var best = sorted[index]
      var perfBest = sorted[index]
      var next = index + 1
      while next < sorted.count && sorted[next].address == best.address {
        if SymbolTable.rank(sorted[next]) > SymbolTable.rank(best) { best = sorted[next] }
        if SymbolTable.perfPrefers(sorted[next], over: perfBest) { perfBest = sorted[next] }
        next += 1
      }
      if perfBest.name != best.name && perfBest.size == best.size { aliases[unique.count] = perfBest }
      unique.append(best)
      index = next
    }
    symbols = unique
    perfAliases = aliases
    var ends: [UInt64] = []
    ends.reserveCapacity(unique.count)
    var running: UInt64 = 0
    for symbol in unique {
      running = max(running, symbol.address &+ symbol.size)
      ends.append(running)
    }
    maxEnd = ends
  }

  /// perf's `choose_best_symbol` (tools/perf/util/symbol.c): a sized symbol, then non-weak, then global, then
  /// fewer leading underscores, then the longer name. Ties keep the earlier one.
  static func perfPrefers(_ a: ELFSymbol, over b: ELFSymbol) -> Bool {
    if (a.size > 0) != (b.size > 0) { return a.size > 0 }
    if (a.binding == .weak) != (b.binding == .weak) { return b.binding == .weak }
    if (a.binding == .global) != (b.binding == .global) { return a.binding == .global }
    let underscores = { (s: ELFSymbol) in s.name.utf8.prefix { $0 == UInt8(ascii: "_") }.count }
    if underscores(a) != underscores(b) { return underscores(a) < underscores(b) }
    return a.name.utf8.count > b.name.utf8.count
  }

  /// Higher is preferred among symbols at the same address.
  static func rank(_ s: ELFSymbol) -> (Int, Int, Int, Int, Int) {
    let sized = s.size > 0 ? 1 : 0
    let function = s.kind == .function || s.kind == .gnuIndirect ? 1 : 0
    let binding =
      switch s.binding {
      case .global: 3
      case .weak: 2
      case .gnuUnique: 2
      case .local: 1
      case .other: 0
      }
    let fromSymtab = s.isDynamic ? 0 : 1
    let underscores = -s.name.utf8.prefix { $0 == UInt8(ascii: "_") }.count
    return (sized, function, binding, underscores, fromSymtab)
  }

  /// The symbol containing `vaddr`: the innermost sized symbol whose range covers it, or else the nearest
  /// preceding symbol of unknown (zero) size, as perf does for hand-written assembly.
  ///
  /// A zero-sized symbol (crti's `_init`/`_fini`, assembly labels) extends to the next code symbol, as in perf
  /// (`symbols__fixup_end`) and llvm-symbolizer (which also stop at the next symbol, not at the section's
  /// end, so `_fini+0x164` past `.fini` is what both print). The last symbol of the table ends one page past
  /// its page, as perf bounds it; beyond that, and past the end of a sized symbol, an address is
  /// `[unknown]` (the caller reports module+offset).
  public func lookup(_ vaddr: UInt64) -> ELFSymbol? { lookupIndex(vaddr).map { symbols[$0] } }

  /// Every symbol a merge with another table must consider: each address's choice and perf's alias for it
  /// (a binary's table and its debug file's are merged this way, keeping both choices right).
  public var candidates: [ELFSymbol] { symbols + perfAliases.values }

  /// The symbol containing `vaddr` as perf names it (its choice among aliases at one address), for output
  /// that must read like perf report/script.
  public func lookupAsPerf(_ vaddr: UInt64) -> ELFSymbol? {
    if let stub = pltStub(vaddr) { return stub }
    return lookupIndex(vaddr).map { perfAliases[$0] ?? symbols[$0] }
  }

  private func pltStub(_ vaddr: UInt64) -> ELFSymbol? {
    guard let first = pltStubs.first, vaddr >= first.address else { return nil }
    var low = 0
    var high = pltStubs.count
    while low < high {
      let mid = (low + high) / 2
      if pltStubs[mid].address <= vaddr { low = mid + 1 } else { high = mid }
    }
    let stub = pltStubs[low - 1]
    return stub.contains(vaddr) ? stub : nil
  }

  private func lookupIndex(_ vaddr: UInt64) -> Int? {
    var low = 0
    var high = symbols.count
    while low < high {
      let mid = (low + high) / 2
      if symbols[mid].address <= vaddr { low = mid + 1 } else { high = mid }
    }
    var index = low - 1
    guard index >= 0 else { return nil }
    let nearest = symbols[index]
    let nearestIsLast = index == symbols.count - 1
    let nearestIndex = index
    while index >= 0 {
      if symbols[index].contains(vaddr) { return index }
      if maxEnd[index] <= vaddr { break }
      index -= 1
    }
    guard nearest.size == 0 else { return nil }
    if nearestIsLast && vaddr >= SymbolTable.lastSymbolEnd(nearest.address) { return nil }
    return nearestIndex
  }

  /// Where the last, zero-sized symbol of a table ends: the page after the one it starts in (perf's
  /// `roundup(start, 4096) + 4096`).
  static func lastSymbolEnd(_ start: UInt64) -> UInt64 {
    let page: UInt64 = 4096
    let (rounded, overflow) = start.addingReportingOverflow(page - 1)
    guard !overflow else { return UInt64.max }
    let (end, overflow2) = (rounded & ~(page - 1)).addingReportingOverflow(page)
    return overflow2 ? UInt64.max : end
  }
}
