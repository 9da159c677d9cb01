import SondeSystem

extension ELFFile {
  /// The file offset of a defined symbol, as uprobes need it.
  ///
  /// Uprobe offsets are file offsets, not virtual addresses: the symbol's address is translated through
  /// the PT_LOAD segment that contains it (offset = address − p_vaddr + p_offset).
  public func probeOffset(ofSymbol symbol: String) throws(SondeError) -> UInt64 {
    let operation = "resolve \(symbol) in \(path)"
    guard let match = try symbols(named: symbol).first(where: { $0.address != 0 }) else {
      throw SondeError.invalid(
        operation, "no defined symbol '\(symbol)' in .symtab or .dynsym",
        remedy: "check the name with 'nm -D' or 'nm'; static functions need an unstripped binary")
    }
    guard let offset = fileOffset(forVirtualAddress: match.address) else {
      throw SondeError(
        .corruptData, operation: operation,
        reason: "address 0x\(String(match.address, radix: 16)) lies in no PT_LOAD segment")
    }
    return offset
  }
}
