import SondeSystem

/// Function symbols sorted by address, answering "which function contains this address" by binary search.
///
/// When several symbols start at the same address (aliases such as `__libc_malloc`/`malloc`), one is kept,
/// preferring a sized function, then global over weak over local binding, then `.symtab` over `.dynsym`,
/// then the name without leading underscores — close to what llvm-symbolizer reports.
///
/// A table is compact: 32 bytes a symbol (`Record`), with each name left where it was read (the mapped ELF file, whose
/// pages are released once decoded) and made a `String` only when a lookup returns it. Choosing among
/// aliases needs only a name's length and leading underscores, kept with the record, so building the table
/// reads no names. An unstripped Swift
/// binary's 78,000 functions with 6 MB of mangled names take 2.5 MB, not the 15–20 MB of decoded strings.
public struct SymbolTable: Sendable {
  /// One symbol: where its name's bytes are, in which source, and what lookups and alias choice need.
  struct Record: Sendable {
    var address: UInt64
    /// Bits 0–55: the name's offset in its source; 56–62: the source's index; 63: from `.dynsym`.
    var packedName: UInt64
    /// st_size, saturated at 4 GiB (no function is that large; a corrupt table's sizes are cut there).
    var size: UInt32
    /// How far past `address` any symbol at or before this one reaches (the running end that bounds the
    /// search for an enclosing symbol); `UInt32.max` when that is 4 GiB or more, and so unknown.
    var reach: UInt32 = 0
    /// Bits 0–23: the name's length in bytes; 24–31: its leading underscores (at most 255), which alias
    /// choice weighs without reading the name.
    var nameShape: UInt32
    var kind: ELFSymbol.Kind
    var binding: ELFSymbol.Binding
    var sectionIndex: UInt16

    static let maxSources = 128

    init(_ raw: RawELFSymbol, source: Int) {
      address = raw.address
      size = UInt32(clamping: raw.size)
      packedName = raw.nameOffset & Record.offsetMask | UInt64(source) << 56 | (raw.isDynamic ? 1 << 63 : 0)
      nameShape = min(raw.nameLength, Record.maxNameLength) | UInt32(min(raw.leadingUnderscores, 255)) << 24
      kind = raw.kind
      binding = raw.binding
      sectionIndex = raw.sectionIndex
    }

    /// The longest name a record holds (16 MiB); `readSymbols` skips longer ones.
    static let maxNameLength: UInt32 = (1 << 24) - 1
    private static let offsetMask: UInt64 = (1 << 56) - 1
    var nameLength: UInt32 { nameShape & Record.maxNameLength }
    var underscores: Int { Int(nameShape >> 24) }
    var nameOffset: UInt64 { packedName & Record.offsetMask }
    var source: Int { Int(packedName >> 56 & 0x7f) }
    var isDynamic: Bool { packedName >> 63 != 0 }

    /// The same symbol with its source index moved up by `delta` (tables merged one after the other).
    func shifted(by delta: Int) -> Record {
      var copy = self
      copy.packedName = nameOffset | UInt64(source + delta) << 56 | (isDynamic ? 1 << 63 : 0)
      return copy
    }
  }

  /// Sorted by address, one per address.
  let records: [Record]
  /// Where the names are: mapped ELF files, or a heap copy for symbols made in memory.
  let sources: [ByteStore]
  /// Where perf names an address differently (its `choose_best_symbol` prefers the longer of two equally
  /// bound names: `cfree@GLIBC_2.2.5` over `free`): the alias perf shows, by index into `records`.
  private let perfAliases: [Int: Record]
  /// Synthesized PLT stub symbols (`name@plt`), sorted: perf names stubs this way, llvm-symbolizer does not,
  /// so only `lookupAsPerf` consults them.
  public let pltStubs: [ELFSymbol]

  /// The kept symbols in address order, each made on access.
  public struct Symbols: RandomAccessCollection, Sendable {
    let table: SymbolTable
    public var startIndex: Int { 0 }
    public var endIndex: Int { table.records.count }
    public subscript(i: Int) -> ELFSymbol { table.symbol(table.records[i]) }
  }

  /// The kept symbols, sorted by address, one per address.
  public var symbols: Symbols { Symbols(table: self) }

  /// Whether a symbol describes code that lookups should consider.
  static func isCode(kind: ELFSymbol.Kind, size: UInt64, sectionIndex: UInt16, nameIsEmpty: Bool) -> Bool {
    guard sectionIndex != 0, sectionIndex < 0xff00 || sectionIndex == 0xffff, !nameIsEmpty else { return false }
    switch kind {
    case .function, .gnuIndirect: return true
    case .none: return size > 0
    default: return false
    }
  }

  /// A table of symbols made in memory (tests, synthesized symbols): their names are copied into one buffer.
  public init(symbols input: [ELFSymbol], pltStubs: [ELFSymbol] = []) {
    var names: [UInt8] = []
    var records: [Record] = []
    records.reserveCapacity(input.count)
    for symbol in input {
      var raw = RawELFSymbol(
        nameOffset: UInt64(names.count), nameLength: UInt32(truncatingIfNeeded: symbol.name.utf8.count),
        address: symbol.address, size: symbol.size, kind: symbol.kind, binding: symbol.binding,
        sectionIndex: symbol.sectionIndex, isDynamic: symbol.isDynamic)
      raw.leadingUnderscores = symbol.name.utf8.prefix { $0 == UInt8(ascii: "_") }.count
      names.append(contentsOf: symbol.name.utf8)
      records.append(Record(raw, source: 0))
    }
    self.init(records: records, sources: [ByteStore(copying: names)], pltStubs: pltStubs)
  }

  /// One table of both tables' symbols (a binary's and its separate debug file's), each address choosing
  /// again among both tables' choices and perf aliases. `first`'s PLT stubs are kept.
  public init(merging first: SymbolTable, _ second: SymbolTable) {
    let shift = first.sources.count
    var records = first.records + first.perfAliases.values
    records.reserveCapacity(records.count + second.records.count + second.perfAliases.count)
    for record in second.records { records.append(record.shifted(by: shift)) }
    for record in second.perfAliases.values { records.append(record.shifted(by: shift)) }
    self.init(records: records, sources: first.sources + second.sources, pltStubs: first.pltStubs)
  }

  /// Sorts `records` by address and keeps the preferred symbol of each address (and perf's, when it differs).
  init(records input: consuming [Record], sources: [ByteStore], pltStubs: [ELFSymbol]) {
    precondition(sources.count <= Record.maxSources, "a symbol table has at most \(Record.maxSources) sources")
    self.sources = sources
    self.pltStubs = pltStubs.sorted { $0.address < $1.address }
    // Sort by address only (cheap), then keep the preferred symbol of each run of equal addresses, in place.
    var records = consume input
    records.sort { $0.address < $1.address }
    var aliases: [Int: Record] = [:]
    var kept = 0
    var index = 0
    while index < records.count {
      var best = records[index]
      var perfBest = records[index]
      var next = index + 1
      while next < records.count && records[next].address == best.address {
        let candidate = records[next]
        if SymbolTable.rank(candidate) > SymbolTable.rank(best) { best = candidate }
        if SymbolTable.perfPrefers(candidate, over: perfBest) { perfBest = candidate }
        next += 1
      }
      if perfBest.size == best.size && !SymbolTable.sameName(perfBest, best, sources) { aliases[kept] = perfBest }
      records[kept] = best
      kept += 1
      index = next
    }
    records.removeLast(records.count - kept)
    var runningEnd: UInt64 = 0
    for i in records.indices {
      let (end, overflow) = records[i].address.addingReportingOverflow(UInt64(records[i].size))
      runningEnd = max(runningEnd, overflow ? UInt64.max : end)
      records[i].reach = UInt32(clamping: runningEnd - records[i].address)
    }
    self.records = records
    perfAliases = aliases
  }

  /// Approximate heap bytes of the table (records, ends, aliases, stubs and names held in memory), for a
  /// cache's memory bound. Names in a mapped file are not counted: their pages are released once read.
  public var approximateBytes: Int {
    records.count * MemoryLayout<Record>.stride
      + perfAliases.count * 2 * MemoryLayout<Record>.stride
      + pltStubs.reduce(pltStubs.count * MemoryLayout<ELFSymbol>.stride) { $0 + $1.name.utf8.count }
      + sources.reduce(0) { $0 + ($1.isMapped ? 0 : $1.count) }
  }

  // MARK: Names

  /// Runs `body` over the bytes of `record`'s name (checked inside its source when the record was made).
  private static func withName<R>(
    _ record: Record, _ sources: [ByteStore], _ body: (UnsafeRawBufferPointer) -> R
  ) -> R {
    let reader = sources[record.source].reader()
    return (try? reader.withBytes(record.nameOffset, UInt64(record.nameLength), body))
      ?? body(UnsafeRawBufferPointer(start: nil, count: 0))
  }

  private static func sameName(_ a: Record, _ b: Record, _ sources: [ByteStore]) -> Bool {
    a.packedName == b.packedName
      || a.nameLength == b.nameLength && withName(a, sources) { x in withName(b, sources) { y in x.elementsEqual(y) } }
  }

  func symbol(_ record: Record) -> ELFSymbol {
    ELFSymbol(
      name: SymbolTable.withName(record, sources) { String(decoding: $0, as: UTF8.self) }, address: record.address,
      size: UInt64(record.size), kind: record.kind, binding: record.binding, sectionIndex: record.sectionIndex,
      isDynamic: record.isDynamic)
  }

  // MARK: Choosing among aliases

  /// perf's `choose_best_symbol` (tools/perf/util/symbol.c): a sized symbol, then non-weak, then global, then
  /// fewer leading underscores, then the longer name. Ties keep the earlier one.
  static func perfPrefers(_ a: Record, over b: Record) -> Bool {
    if (a.size > 0) != (b.size > 0) { return a.size > 0 }
    if (a.binding == .weak) != (b.binding == .weak) { return b.binding == .weak }
    if (a.binding == .global) != (b.binding == .global) { return a.binding == .global }
    if a.underscores != b.underscores { return a.underscores < b.underscores }
    return a.nameLength > b.nameLength
  }

  /// Higher is preferred among symbols at the same address.
  static func rank(_ s: Record) -> (Int, Int, Int, Int, Int) {
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
    return (sized, function, binding, -s.underscores, fromSymtab)
  }

  // MARK: Lookups

  /// The symbol containing `vaddr`: the innermost sized symbol whose range covers it, or else the nearest
  /// preceding symbol of unknown (zero) size, as perf does for hand-written assembly.
  ///
  /// A zero-sized symbol (crti's `_init`/`_fini`, assembly labels) extends to the next code symbol, as in perf
  /// (`symbols__fixup_end`) and llvm-symbolizer (which also stop at the next symbol, not at the section's
  /// end, so `_fini+0x164` past `.fini` is what both print). The last symbol of the table ends one page past
  /// its page, as perf bounds it; beyond that, and past the end of a sized symbol, an address is
  /// `[unknown]` (the caller reports module+offset).
  public func lookup(_ vaddr: UInt64) -> ELFSymbol? { lookupIndex(vaddr).map { symbol(records[$0]) } }

  /// The symbol containing `vaddr` as perf names it (its choice among aliases at one address), for output
  /// that must read like perf report/script.
  public func lookupAsPerf(_ vaddr: UInt64) -> ELFSymbol? {
    if let stub = pltStub(vaddr) { return stub }
    return lookupIndex(vaddr).map { symbol(perfAliases[$0] ?? records[$0]) }
  }

  private func pltStub(_ vaddr: UInt64) -> ELFSymbol? {
    guard let first = pltStubs.first, vaddr >= first.address else { return nil }
    let low = pltStubs.countOfElements(keyedAtMost: vaddr) { $0.address }
    let stub = pltStubs[low - 1]
    return stub.contains(vaddr) ? stub : nil
  }

  /// Drops the pages of the mapped files the names are in, whole (they are read back if a lookup needs them).
  func releaseFilePages() {
    for source in sources { source.dropPages(0, UInt64(source.count)) }
  }

  /// The address of the symbol at `index` (into `symbols`), without making its name.
  func address(at index: Int) -> UInt64 { records[index].address }

  /// The index (into `symbols`) of the symbol `lookup(vaddr)` returns: a key for caching what is made of it.
  func lookupIndex(_ vaddr: UInt64) -> Int? {
    let low = records.countOfElements(keyedAtMost: vaddr) { $0.address }
    var index = low - 1
    guard index >= 0 else { return nil }
    let nearest = records[index]
    let nearestIsLast = index == records.count - 1
    let nearestIndex = index
    while index >= 0 {
      let candidate = records[index]
      if vaddr >= candidate.address && vaddr - candidate.address < UInt64(candidate.size) { return index }
      if candidate.reach < UInt32.max && candidate.address + UInt64(candidate.reach) <= vaddr { break }
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
