import PerfEvents

/// A minimal ELF64 reader for one job: turning a function symbol into the *file offset* a uprobe needs.
///
/// Uprobe offsets are file offsets, not virtual addresses: the symbol's address is translated through
/// the PT_LOAD program header that contains it (offset = address - p_vaddr + p_offset). Both `.symtab`
/// and `.dynsym` are searched. (The Symbols module offers a full ELF reader; this stays deliberately small.)
public struct ELFSymbolLookup: Sendable {
  let bytes: [UInt8]
  let path: String

  public init(path: String) throws(SondeError) {
    guard let bytes = readFileBytes(path) else {
      throw SondeError(
        .invalidInput, operation: "read ELF \(path)", reason: "cannot read the file (does it exist?)")
    }
    guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46, bytes[4] == 2,
      bytes[5] == 1
    else {
      throw SondeError(.corruptData, operation: "read ELF \(path)", reason: "not a little-endian 64-bit ELF file")
    }
    self.bytes = bytes
    self.path = path
  }

  func u16(_ at: Int) -> Int { at + 2 <= bytes.count ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : 0 }
  func u32(_ at: Int) -> Int { at + 4 <= bytes.count ? u16(at) | u16(at + 2) << 16 : 0 }
  func u64(_ at: Int) -> UInt64 {
    at + 8 <= bytes.count ? UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 : 0
  }

  /// The symbol's address (st_value) in `.symtab` or `.dynsym`, if it is a defined function or object.
  public func address(of symbol: String) -> UInt64? {
    let sectionHeaders = Int(u64(0x28))
    let entrySize = u16(0x3a)
    let count = u16(0x3c)
    let wanted = Array(symbol.utf8)
    for index in 0..<count {
      let header = sectionHeaders + index * entrySize
      let type = u32(header + 4)
      guard type == 2 || type == 11 else { continue }  // SHT_SYMTAB, SHT_DYNSYM
      let offset = Int(u64(header + 0x18))
      let size = Int(u64(header + 0x20))
      let link = u32(header + 0x28)
      let symbolSize = max(Int(u64(header + 0x38)), 24)
      let strtab = Int(u64(sectionHeaders + link * entrySize + 0x18))
      var entry = offset
      while entry + 24 <= min(offset + size, bytes.count) {
        let nameOffset = strtab + u32(entry)
        let value = u64(entry + 8)
        let shndx = u16(entry + 6)
        if value != 0, shndx != 0, matches(at: nameOffset, wanted) { return value }
        entry += symbolSize
      }
    }
    return nil
  }

  private func matches(at offset: Int, _ wanted: [UInt8]) -> Bool {
    guard offset >= 0, offset + wanted.count < bytes.count else { return false }
    for (index, byte) in wanted.enumerated() where bytes[offset + index] != byte { return false }
    return bytes[offset + wanted.count] == 0
  }

  /// Translates a virtual address into a file offset through the PT_LOAD segment that contains it.
  public func fileOffset(ofAddress address: UInt64) -> UInt64? {
    let programHeaders = Int(u64(0x20))
    let entrySize = u16(0x36)
    let count = u16(0x38)
    for index in 0..<count {
      let header = programHeaders + index * entrySize
      guard u32(header) == 1 else { continue }  // PT_LOAD
      let fileOffset = u64(header + 0x08)
      let vaddr = u64(header + 0x10)
      let fileSize = u64(header + 0x20)
      if address >= vaddr, address < vaddr + fileSize { return address - vaddr + fileOffset }
    }
    return nil
  }

  /// The file offset of a function symbol, for uprobe attachment.
  public func fileOffset(ofSymbol symbol: String) throws(SondeError) -> UInt64 {
    guard let address = address(of: symbol) else {
      throw SondeError.invalid(
        "resolve \(symbol) in \(path)", "no defined symbol '\(symbol)' in .symtab or .dynsym",
        remedy: "check the name with 'nm -D' or 'nm'; static functions need an unstripped binary")
    }
    guard let offset = fileOffset(ofAddress: address) else {
      throw SondeError(
        .corruptData, operation: "resolve \(symbol) in \(path)",
        reason: "address 0x\(String(address, radix: 16)) lies in no PT_LOAD segment")
    }
    return offset
  }
}
