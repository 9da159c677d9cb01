import SondeSystem

extension ELFFile {
  /// Symbols for the PLT stubs of an x86-64 image, named as perf names them (`dso__synthesize_plt_symbols`):
  /// `printf@plt` for the stub of `.rela.plt` entry i, `@plt` when the relocation names no symbol
  /// (IRELATIVE). Stubs are 16 bytes: in `.plt.sec` when the image has one (IBT), else in `.plt` after its
  /// 16-byte header. Without these, samples in a stub would read `_init+0x…` or `[unknown]`.
  static func pltSymbols(_ r: ByteReader, _ h: ELFHeader, _ sections: [ELFSection]) -> [ELFSymbol] {
    let relaType: UInt32 = 4  // SHT_RELA
    let entrySize: UInt64 = 16
    guard h.is64Bit, h.machine == 62,
      let relocations = sections.first(where: { $0.name == ".rela.plt" && $0.type == relaType }),
      r.contains(offset: relocations.offset, size: relocations.size), Int(relocations.link) < sections.count
    else { return [] }
    let stubs: (section: Int, start: UInt64)
    if let i = sections.firstIndex(where: { $0.name == ".plt.sec" && $0.type == ELFSection.SHT_PROGBITS }) {
      stubs = (i, sections[i].address)
    } else if let i = sections.firstIndex(where: { $0.name == ".plt" && $0.type == ELFSection.SHT_PROGBITS }) {
      stubs = (i, sections[i].address &+ entrySize)
    } else {
      return []
    }
    let stubsEnd = sections[stubs.section].address &+ sections[stubs.section].size
    // Only the entries the relocations name are read: a Swift executable's .dynsym holds every symbol it
    // exports, thousands, where its PLT calls a few hundred.
    let symbols = sections[Int(relocations.link)]
    let strings = try? stringTable(of: symbols, r, sections)
    func name(_ index: UInt64) -> String {
      guard let strings, index < symbols.size / 24, let symbol = try? entry(r, h, symbols, strings, index: index)
      else { return "" }
      return r.string(symbol.nameOffset, length: symbol.nameLength)
    }
    var result: [ELFSymbol] = []
    let count = relocations.size / 24  // Elf64_Rela: r_offset, r_info, r_addend
    for index in 0..<count {
      let address = stubs.start &+ index &* entrySize
      guard address &+ entrySize <= stubsEnd, let info = try? r.u64(relocations.offset + index * 24 + 8) else { break }
      result.append(
        ELFSymbol(
          name: name(info >> 32) + "@plt", address: address, size: entrySize, kind: .function,
          binding: .global, sectionIndex: UInt16(truncatingIfNeeded: stubs.section), isDynamic: true))
    }
    return result
  }
}
