import SondeSystem

/// Decoding of the ELF header, program headers, section headers and notes. Every count is checked
/// against the image size before anything is allocated, so "huge counts" cannot exhaust memory.
extension ELFFile {
  static func corrupt(_ path: String, _ reason: String) -> SondeError {
    SondeError(
      .corruptData, operation: "parse ELF \(path)", reason: reason,
      remedy: "the file is truncated or not a valid ELF image")
  }

  static func parseHeader(store: ByteStore, path: String) throws(SondeError) -> ELFHeader {
    let probe = store.reader()
    guard store.count >= 16,
      try probe.u8(0) == 0x7f, try probe.u8(1) == 0x45, try probe.u8(2) == 0x4c, try probe.u8(3) == 0x46
    else {
      throw SondeError(
        .invalidInput, operation: "parse ELF \(path)", reason: "not an ELF file (bad magic)",
        remedy: "pass an ELF executable, shared object or debug file")
    }
    let elfClass = try probe.u8(4)
    let data = try probe.u8(5)
    guard elfClass == 1 || elfClass == 2 else { throw corrupt(path, "unknown ELF class \(elfClass)") }
    guard data == 1 || data == 2 else { throw corrupt(path, "unknown ELF data encoding \(data)") }
    let is64 = elfClass == 2
    let r = store.reader(bigEndian: data == 2)
    guard store.count >= (is64 ? 64 : 52) else { throw corrupt(path, "file shorter than the ELF header") }
    let header: ELFHeader
    if is64 {
      header = ELFHeader(
        is64Bit: true, isBigEndian: data == 2, type: try r.u16(16), machine: try r.u16(18), entry: try r.u64(24),
        programHeaderOffset: try r.u64(32), sectionHeaderOffset: try r.u64(40),
        programHeaderEntrySize: try r.u16(54), programHeaderCount: try r.u16(56),
        sectionHeaderEntrySize: try r.u16(58), sectionHeaderCount: try r.u16(60), sectionNameTableIndex: try r.u16(62))
    } else {
      header = ELFHeader(
        is64Bit: false, isBigEndian: data == 2, type: try r.u16(16), machine: try r.u16(18),
        entry: UInt64(try r.u32(24)), programHeaderOffset: UInt64(try r.u32(28)),
        sectionHeaderOffset: UInt64(try r.u32(32)), programHeaderEntrySize: try r.u16(42),
        programHeaderCount: try r.u16(44), sectionHeaderEntrySize: try r.u16(46), sectionHeaderCount: try r.u16(48),
        sectionNameTableIndex: try r.u16(50))
    }
    return header
  }

  static func parseProgramHeaders(_ r: ByteReader, _ h: ELFHeader) throws(SondeError) -> [ELFProgramHeader] {
    var count = UInt64(h.programHeaderCount)
    guard count > 0, h.programHeaderOffset != 0 else { return [] }
    if count == 0xffff, h.sectionHeaderOffset != 0 {
      // PN_XNUM: the real count is in section 0's sh_info.
      count = UInt64(try r.u32(h.sectionHeaderOffset &+ (h.is64Bit ? 44 : 28)))  // wraps: r.u32 bounds-checks
    }
    let entrySize = UInt64(h.programHeaderEntrySize)
    guard entrySize >= (h.is64Bit ? 56 : 32) else { throw corrupt("", "program header entry size \(entrySize)") }
    guard count <= UInt64(r.count) / entrySize, r.contains(offset: h.programHeaderOffset, size: count * entrySize)
    else {
      throw corrupt("", "program headers (\(count) × \(entrySize) at \(h.programHeaderOffset)) extend past EOF")
    }
    var result: [ELFProgramHeader] = []
    result.reserveCapacity(Int(min(count, 1 << 16)))
    for index in 0..<count {
      let o = h.programHeaderOffset + index * entrySize
      if h.is64Bit {
        result.append(
          ELFProgramHeader(
            type: try r.u32(o), flags: try r.u32(o + 4), offset: try r.u64(o + 8), virtualAddress: try r.u64(o + 16),
            fileSize: try r.u64(o + 32), memorySize: try r.u64(o + 40), alignment: try r.u64(o + 48)))
      } else {
        result.append(
          ELFProgramHeader(
            type: try r.u32(o), flags: try r.u32(o + 24), offset: UInt64(try r.u32(o + 4)),
            virtualAddress: UInt64(try r.u32(o + 8)), fileSize: UInt64(try r.u32(o + 16)),
            memorySize: UInt64(try r.u32(o + 20)), alignment: UInt64(try r.u32(o + 28))))
      }
    }
    return result
  }

  static func parseSections(_ r: ByteReader, _ h: ELFHeader) throws(SondeError) -> [ELFSection] {
    guard h.sectionHeaderOffset != 0 else { return [] }
    let entrySize = UInt64(h.sectionHeaderEntrySize)
    guard entrySize >= (h.is64Bit ? 64 : 40) else { throw corrupt("", "section header entry size \(entrySize)") }
    var count = UInt64(h.sectionHeaderCount)
    if count == 0 {
      // Extended numbering: the real count is in section 0's sh_size.
      count = try r.word(h.sectionHeaderOffset &+ (h.is64Bit ? 32 : 20), is64: h.is64Bit)  // wraps: bounds-checked
      if count == 0 { return [] }
    }
    guard count <= UInt64(r.count) / entrySize, r.contains(offset: h.sectionHeaderOffset, size: count * entrySize)
    else {
      throw corrupt("", "section headers (\(count) × \(entrySize) at \(h.sectionHeaderOffset)) extend past EOF")
    }
    struct Raw {
      var name: UInt32, type: UInt32, flags: UInt64, addr: UInt64, offset: UInt64, size: UInt64, link: UInt32
      var info: UInt32, entsize: UInt64
    }
    var raws: [Raw] = []
    raws.reserveCapacity(Int(min(count, 1 << 16)))
    for index in 0..<count {
      let o = h.sectionHeaderOffset + index * entrySize
      if h.is64Bit {
        raws.append(
          Raw(
            name: try r.u32(o), type: try r.u32(o + 4), flags: try r.u64(o + 8), addr: try r.u64(o + 16),
            offset: try r.u64(o + 24), size: try r.u64(o + 32), link: try r.u32(o + 40), info: try r.u32(o + 44),
            entsize: try r.u64(o + 56)))
      } else {
        raws.append(
          Raw(
            name: try r.u32(o), type: try r.u32(o + 4), flags: UInt64(try r.u32(o + 8)),
            addr: UInt64(try r.u32(o + 12)), offset: UInt64(try r.u32(o + 16)), size: UInt64(try r.u32(o + 20)),
            link: try r.u32(o + 24), info: try r.u32(o + 28), entsize: UInt64(try r.u32(o + 36))))
      }
    }
    var nameIndex = UInt64(h.sectionNameTableIndex)
    if nameIndex == 0xffff, let first = raws.first { nameIndex = UInt64(first.link) }  // SHN_XINDEX
    var names: (offset: UInt64, end: UInt64)?
    if nameIndex < count, raws[Int(nameIndex)].type != ELFSection.SHT_NOBITS {
      let table = raws[Int(nameIndex)]
      if r.contains(offset: table.offset, size: table.size) { names = (table.offset, table.offset + table.size) }
    }
    return raws.map { raw in
      var name = ""
      if let names, let text = r.cString(names.offset + UInt64(raw.name), limit: names.end),
        UInt64(raw.name) < names.end - names.offset
      {
        name = text
      }
      return ELFSection(
        name: name, type: raw.type, flags: raw.flags, address: raw.addr, offset: raw.offset, size: raw.size,
        link: raw.link, info: raw.info, entrySize: raw.entsize)
    }
  }

  /// Looks for NT_GNU_BUILD_ID in PT_NOTE segments, then in SHT_NOTE sections (debug files have no segments
  /// that point at real bytes). Corrupt notes are skipped rather than reported: a missing build-id is normal.
  static func findBuildID(
    _ r: ByteReader, _ h: ELFHeader, _ phdrs: [ELFProgramHeader], _ sections: [ELFSection]
  ) -> [UInt8]? {
    var regions: [(UInt64, UInt64, UInt64)] = phdrs.filter { $0.type == ELFProgramHeader.PT_NOTE }
      .map { ($0.offset, $0.fileSize, $0.alignment) }
    regions += sections.filter { $0.type == ELFSection.SHT_NOTE }.map { ($0.offset, $0.size, 4) }
    for (offset, size, alignment) in regions where r.contains(offset: offset, size: size) {
      if let id = buildIDNote(r, offset: offset, size: size, alignment: alignment == 8 ? 8 : 4) { return id }
    }
    return nil
  }

  private static func buildIDNote(_ r: ByteReader, offset: UInt64, size: UInt64, alignment: UInt64) -> [UInt8]? {
    func align(_ value: UInt64) -> UInt64 { (value + alignment - 1) & ~(alignment - 1) }
    var cursor = offset
    let end = offset + size
    while cursor + 12 <= end {
      guard let nameSize = try? r.u32(cursor), let descSize = try? r.u32(cursor + 4),
        let type = try? r.u32(cursor + 8)
      else { return nil }
      let nameStart = cursor + 12
      let descStart = nameStart + align(UInt64(nameSize))
      let next = descStart + align(UInt64(descSize))
      guard next <= end, next > cursor else { return nil }
      if type == 3, nameSize == 4, let name = try? r.bytes(nameStart, 4), name == [0x47, 0x4e, 0x55, 0],
        descSize > 0, descSize <= 64
      {
        return try? r.bytes(descStart, UInt64(descSize))
      }
      cursor = next
    }
    return nil
  }

  static func findDebugLink(_ r: ByteReader, _ sections: [ELFSection]) -> DebugLink? {
    guard let section = sections.first(where: { $0.name == ".gnu_debuglink" }),
      section.type != ELFSection.SHT_NOBITS, r.contains(offset: section.offset, size: section.size),
      let name = r.cString(section.offset, limit: section.offset + section.size), !name.isEmpty
    else { return nil }
    let crcOffset = section.offset + ((UInt64(name.utf8.count) + 1 + 3) & ~3)
    guard crcOffset + 4 <= section.offset + section.size, let crc = try? r.u32(crcOffset) else { return nil }
    return DebugLink(fileName: name, crc: crc)
  }
}
