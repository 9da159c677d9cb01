import SondeSystem

/// One entry of a symbol table as stored: the name is the file offset and length of its bytes in the
/// linked string table (verified NUL-terminated inside it), not yet a `String`.
struct RawELFSymbol {
  var nameOffset: UInt64
  var nameLength: UInt32
  var address: UInt64
  var size: UInt64
  var kind: ELFSymbol.Kind
  var binding: ELFSymbol.Binding
  var sectionIndex: UInt16
  var isDynamic: Bool
  /// The name's leading underscores, when the reader counted them (`readSymbols` does).
  var leadingUnderscores = 0
}

extension ELFFile {
  /// Symbols read between two releases of the table's pages (`forEachSymbol`'s `releasingPages`).
  static let symbolsPerRelease: UInt64 = 8192

  /// Calls `body` with each well-formed entry of one SHT_SYMTAB/SHT_DYNSYM section, in order. An entry
  /// whose name lies outside the string table or runs past its end is skipped. Throws when the table or
  /// its string table lies past EOF.
  ///
  /// With `releasingPages`, the pages of the table and of the names read are dropped from this process's
  /// memory every `symbolsPerRelease` entries: a mapped 9 MB string table then never stays resident.
  static func forEachSymbol(
    _ r: ByteReader, _ h: ELFHeader, _ sections: [ELFSection], _ table: ELFSection, releasingPages: Bool = false,
    _ body: (RawELFSymbol) -> Void
  ) throws(SondeError) {
    let entrySize: UInt64 = h.is64Bit ? 24 : 16
    guard table.type != ELFSection.SHT_NOBITS, table.size > 0 else { return }
    let strings = try stringTable(of: table, r, sections)
    let count = table.size / entrySize
    var released = (entry: UInt64(0), lowestName: UInt64.max, highestName: UInt64(0))
    func release(upTo index: UInt64) {
      guard releasingPages, index > released.entry else { return }
      let start = table.offset + released.entry * entrySize
      r.store.dropPages(start, (index - released.entry) * entrySize)
      if released.lowestName <= released.highestName {
        r.store.dropPages(released.lowestName, released.highestName - released.lowestName)
      }
      released = (index, UInt64.max, 0)
    }
    for index in 0..<count {
      if index - released.entry == symbolsPerRelease { release(upTo: index) }
      guard let symbol = try entry(r, h, table, strings, index: index) else { continue }
      released.lowestName = min(released.lowestName, symbol.nameOffset)
      released.highestName = max(released.highestName, symbol.nameOffset + UInt64(symbol.nameLength) + 1)
      body(symbol)
    }
    release(upTo: count)
  }

  /// The string table of symbol table `table`, once both are known to lie inside the file.
  static func stringTable(of table: ELFSection, _ r: ByteReader, _ sections: [ELFSection]) throws(SondeError)
    -> ELFSection
  {
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
    return strings
  }

  /// Entry `index` of a symbol table whose bounds and string table (`strings`) the caller checked; nil when
  /// its name lies outside the string table or runs past its end. Throws when the entry lies past EOF.
  static func entry(
    _ r: ByteReader, _ h: ELFHeader, _ table: ELFSection, _ strings: ELFSection, index: UInt64
  ) throws(SondeError) -> RawELFSymbol? {
    let o = table.offset + index * (h.is64Bit ? 24 : 16)
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
    guard nameOffset < strings.size,
      let length = r.cStringLength(strings.offset + nameOffset, limit: strings.offset + strings.size),
      let nameLength = UInt32(exactly: length)
    else { return nil }
    return RawELFSymbol(
      nameOffset: strings.offset + nameOffset, nameLength: nameLength, address: value, size: size,
      kind: ELFSymbol.Kind(rawValue: info & 0xf) ?? .other, binding: ELFSymbol.Binding(rawValue: info >> 4) ?? .other,
      sectionIndex: shndx, isDynamic: table.type == ELFSection.SHT_DYNSYM)
  }

  /// Decodes one SHT_SYMTAB/SHT_DYNSYM section, names and all. Throws when the table or its string table
  /// lies past EOF.
  static func decodeSymbols(
    _ r: ByteReader, _ h: ELFHeader, _ sections: [ELFSection], _ table: ELFSection
  ) throws(SondeError) -> [ELFSymbol] {
    var result: [ELFSymbol] = []
    try forEachSymbol(r, h, sections, table) { raw in
      result.append(
        ELFSymbol(
          name: r.string(raw.nameOffset, length: raw.nameLength), address: raw.address, size: raw.size,
          kind: raw.kind, binding: raw.binding, sectionIndex: raw.sectionIndex, isDynamic: raw.isDynamic))
    }
    return result
  }

  /// The code symbols of the image for address lookup, names left in the file (source 0 of the table).
  /// The pages read are released as they are done with. Corrupt tables are skipped (lookups then say
  /// [unknown]); `allSymbols()` reports the error instead.
  static func readSymbols(_ r: ByteReader, _ h: ELFHeader, _ sections: [ELFSection]) -> [SymbolTable.Record] {
    let tables = sections.filter { $0.type == ELFSection.SHT_SYMTAB || $0.type == ELFSection.SHT_DYNSYM }
    // Room for every entry the file really holds, so the array never regrows (a regrowth holds two copies);
    // the pages of what goes unused are never touched.
    let entries = tables.reduce(0) { total, table in
      r.contains(offset: table.offset, size: table.size) ? total + Int(table.size / (h.is64Bit ? 24 : 16)) : total
    }
    var result: [SymbolTable.Record] = []
    result.reserveCapacity(entries)
    for section in tables {
      try? forEachSymbol(r, h, sections, section, releasingPages: true) { raw in
        let firstByte = raw.nameLength > 0 ? (try? r.u8(raw.nameOffset)) : nil
        guard raw.nameLength <= SymbolTable.Record.maxNameLength,
          SymbolTable.isCode(
            kind: raw.kind, size: raw.size, sectionIndex: raw.sectionIndex, nameIsEmpty: raw.nameLength == 0)
            || isCodeLabel(raw, firstNameByte: firstByte, sections)
        else { return }
        var symbol = raw
        symbol.leadingUnderscores = r.leadingUnderscores(raw.nameOffset, length: raw.nameLength)
        result.append(SymbolTable.Record(symbol, source: 0))
      }
    }
    return result
  }

  /// Drops the pages of every symbol table and its string table from this process's memory (a file
  /// mapping's pages are read back if touched): once a table is built, only lookups read names.
  static func releaseSymbolPages(_ r: ByteReader, _ sections: [ELFSection]) {
    for section in sections where section.type == ELFSection.SHT_SYMTAB || section.type == ELFSection.SHT_DYNSYM {
      r.store.dropPages(section.offset, section.size)
      if Int(section.link) < sections.count {
        r.store.dropPages(sections[Int(section.link)].offset, sections[Int(section.link)].size)
      }
    }
  }

  /// Whether `symbol` is an assembly label in code: STT_NOTYPE, no size, defined in an executable section
  /// (SHF_EXECINSTR). Hand-written entry points such as ld.so's `_start` and `_dl_start_user` are only
  /// labels; perf (`elf_sym__is_label` in a text section) and llvm-symbolizer both name code after them.
  /// ARM/AArch64 mapping symbols (`$x`, `$d`, `$a`, `$t`) mark instruction sets, not functions.
  static func isCodeLabel(_ symbol: RawELFSymbol, firstNameByte: UInt8?, _ sections: [ELFSection]) -> Bool {
    guard symbol.kind == .none, symbol.size == 0, let firstNameByte, firstNameByte != UInt8(ascii: "$"),
      symbol.sectionIndex != 0, Int(symbol.sectionIndex) < sections.count
    else { return false }
    return sections[Int(symbol.sectionIndex)].flags & ELFSection.SHF_EXECINSTR != 0
  }
}
