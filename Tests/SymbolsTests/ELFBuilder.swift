/// Writes small but complete ELF images for tests: one PT_LOAD segment, a PT_NOTE with a GNU build-id,
/// `.text`, optional `.gnu_debuglink`, `.symtab`/`.strtab` and `.shstrtab` — in 32- or 64-bit, either byte
/// order. Real files from the machine cover what toolchains produce; these cover what the machine has not.
struct ELFBuilder {
  struct Symbol {
    var name: String
    var address: UInt64
    var size: UInt64
    var isFunction = true
  }

  var is64 = true
  var bigEndian = false
  var machine: UInt16 = 62
  /// Virtual address the file's offset 0 is loaded at.
  var loadAddress: UInt64 = 0x40_0000
  var textOffset: UInt64 = 0x400
  var textSize: UInt64 = 0x400
  var symbols: [Symbol] = []
  var buildID: [UInt8]? = [0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
  var debugLink: (String, UInt32)?
  /// Whether to emit `.symtab` (false makes a "stripped" image).
  var includeSymtab = true

  private struct Writer {
    var bytes: [UInt8] = []
    let bigEndian: Bool
    mutating func int<T: FixedWidthInteger>(_ value: T) {
      let v = bigEndian ? value.bigEndian : value.littleEndian
      withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }
    mutating func word(_ value: UInt64, _ is64: Bool) {
      if is64 { int(value) } else { int(UInt32(truncatingIfNeeded: value)) }
    }
    mutating func pad(to size: Int) {
      if bytes.count < size { bytes += [UInt8](repeating: 0, count: size - bytes.count) }
    }
    mutating func align(_ n: Int) { pad(to: (bytes.count + n - 1) / n * n) }
  }

  func build() -> [UInt8] {
    var w = Writer(bigEndian: bigEndian)
    let ehSize = is64 ? 64 : 52
    let phEntry = is64 ? 56 : 32
    let shEntry = is64 ? 64 : 40
    // Body first (after header + 2 program headers), then section headers.
    w.pad(to: ehSize + 2 * phEntry)
    w.pad(to: Int(textOffset))
    w.bytes += [UInt8](repeating: 0x90, count: Int(textSize))
    var noteOffset = 0
    var noteSize = 0
    if let buildID {
      w.align(4)
      noteOffset = w.bytes.count
      w.int(UInt32(4))
      w.int(UInt32(buildID.count))
      w.int(UInt32(3))
      w.bytes += Array("GNU\0".utf8)
      w.bytes += buildID
      w.align(4)
      noteSize = w.bytes.count - noteOffset
    }
    var linkOffset = 0
    var linkSize = 0
    if let (name, crc) = debugLink {
      linkOffset = w.bytes.count
      w.bytes += Array(name.utf8) + [0]
      w.align(4)
      w.int(crc)
      linkSize = w.bytes.count - linkOffset
    }
    var strtab: [UInt8] = [0]
    var symtabOffset = 0
    var symtabSize = 0
    var strtabOffset = 0
    if includeSymtab {
      w.align(8)
      symtabOffset = w.bytes.count
      w.bytes += [UInt8](repeating: 0, count: is64 ? 24 : 16)  // null symbol
      for symbol in symbols {
        let nameOffset = UInt32(strtab.count)
        strtab += Array(symbol.name.utf8) + [0]
        let info: UInt8 = (1 << 4) | (symbol.isFunction ? 2 : 1)
        if is64 {
          w.int(nameOffset)
          w.bytes.append(info)
          w.bytes.append(0)
          w.int(UInt16(1))  // .text
          w.int(symbol.address)
          w.int(symbol.size)
        } else {
          w.int(nameOffset)
          w.int(UInt32(truncatingIfNeeded: symbol.address))
          w.int(UInt32(truncatingIfNeeded: symbol.size))
          w.bytes.append(info)
          w.bytes.append(0)
          w.int(UInt16(1))
        }
      }
      symtabSize = w.bytes.count - symtabOffset
      strtabOffset = w.bytes.count
      w.bytes += strtab
    }
    // Section names.
    var shstrtab: [UInt8] = [0]
    func name(_ s: String) -> UInt32 {
      let offset = UInt32(shstrtab.count)
      shstrtab += Array(s.utf8) + [0]
      return offset
    }
    struct Section {
      var name: UInt32, type: UInt32, flags: UInt64, addr: UInt64, offset: UInt64, size: UInt64, link: UInt32
      var info: UInt32, entsize: UInt64
    }
    var sections = [Section(name: 0, type: 0, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: 0, entsize: 0)]
    sections.append(
      Section(
        name: name(".text"), type: 1, flags: 6, addr: loadAddress + textOffset, offset: textOffset, size: textSize,
        link: 0, info: 0, entsize: 0))
    if buildID != nil {
      sections.append(
        Section(
          name: name(".note.gnu.build-id"), type: 7, flags: 2, addr: loadAddress + UInt64(noteOffset),
          offset: UInt64(noteOffset), size: UInt64(noteSize), link: 0, info: 0, entsize: 0))
    }
    if debugLink != nil {
      sections.append(
        Section(
          name: name(".gnu_debuglink"), type: 1, flags: 0, addr: 0, offset: UInt64(linkOffset),
          size: UInt64(linkSize), link: 0, info: 0, entsize: 0))
    }
    if includeSymtab {
      let strtabIndex = UInt32(sections.count + 1)
      sections.append(
        Section(
          name: name(".symtab"), type: 2, flags: 0, addr: 0, offset: UInt64(symtabOffset), size: UInt64(symtabSize),
          link: strtabIndex, info: 1, entsize: is64 ? 24 : 16))
      sections.append(
        Section(
          name: name(".strtab"), type: 3, flags: 0, addr: 0, offset: UInt64(strtabOffset), size: UInt64(strtab.count),
          link: 0, info: 0, entsize: 0))
    }
    let shstrndx = sections.count
    let shstrName = name(".shstrtab")
    let shstrOffset = w.bytes.count
    w.bytes += shstrtab
    sections.append(
      Section(
        name: shstrName, type: 3, flags: 0, addr: 0, offset: UInt64(shstrOffset), size: UInt64(shstrtab.count), link: 0,
        info: 0, entsize: 0))
    w.align(8)
    let shoff = w.bytes.count
    for s in sections {
      w.int(s.name)
      w.int(s.type)
      w.word(s.flags, is64)
      w.word(s.addr, is64)
      w.word(s.offset, is64)
      w.word(s.size, is64)
      w.int(s.link)
      w.int(s.info)
      w.word(8, is64)
      w.word(s.entsize, is64)
    }
    let fileSize = UInt64(w.bytes.count)
    // Header.
    var h = Writer(bigEndian: bigEndian)
    h.bytes = [0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, bigEndian ? 2 : 1, 1, 0]
    h.pad(to: 16)
    h.int(UInt16(3))  // ET_DYN
    h.int(machine)
    h.int(UInt32(1))
    h.word(loadAddress + textOffset, is64)
    h.word(UInt64(ehSize), is64)  // phoff
    h.word(UInt64(shoff), is64)
    h.int(UInt32(0))
    h.int(UInt16(ehSize))
    h.int(UInt16(phEntry))
    h.int(UInt16(2))
    h.int(UInt16(shEntry))
    h.int(UInt16(sections.count))
    h.int(UInt16(shstrndx))
    // Program headers: PT_LOAD of the whole file at loadAddress, PT_NOTE.
    func phdr(_ type: UInt32, _ flags: UInt32, _ offset: UInt64, _ vaddr: UInt64, _ size: UInt64, _ align: UInt64) {
      if is64 {
        h.int(type)
        h.int(flags)
        h.int(offset)
        h.int(vaddr)
        h.int(vaddr)
        h.int(size)
        h.int(size)
        h.int(align)
      } else {
        h.int(type)
        h.int(UInt32(offset))
        h.int(UInt32(vaddr))
        h.int(UInt32(vaddr))
        h.int(UInt32(size))
        h.int(UInt32(size))
        h.int(flags)
        h.int(UInt32(align))
      }
    }
    phdr(1, 5, 0, loadAddress, fileSize, 0x1000)
    phdr(4, 4, UInt64(noteOffset), loadAddress + UInt64(noteOffset), UInt64(noteSize), 4)
    var bytes = w.bytes
    bytes.replaceSubrange(0..<h.bytes.count, with: h.bytes)
    return bytes
  }
}
