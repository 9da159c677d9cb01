import SondeSystem

/// A parsed ELF image (executable, shared object, debug file or vDSO), memory-mapped and bounds-checked.
///
/// Opening parses the file header, program headers and section headers; symbol tables are decoded on
/// first use and cached. Every offset and count read from the file is checked against the image size, so a
/// truncated or corrupt file throws `SondeError(.corruptData)` instead of crashing. 32- and 64-bit images
/// of either byte order are supported. Instances are immutable after init and safe to share between tasks.
public final class ELFFile: @unchecked Sendable {
  /// Where the image came from (a path, or a description such as `[vdso]`).
  public let path: String
  public let header: ELFHeader
  public let programHeaders: [ELFProgramHeader]
  public let sections: [ELFSection]
  /// The GNU build-id (NT_GNU_BUILD_ID note), if present.
  public let buildID: [UInt8]?
  /// The `.gnu_debuglink` file name and CRC32, if present.
  public let debugLink: DebugLink?

  let store: ByteStore
  let reader: ByteReader
  private let symbolCache = Locked<SymbolTable?>(nil)

  /// The contents of a `.gnu_debuglink` section: the separate debug file's name and its CRC32.
  public struct DebugLink: Sendable, Hashable {
    public var fileName: String
    public var crc: UInt32
  }

  /// Opens and parses the ELF file at `path` (memory-mapped).
  public static func open(path: String) throws(SondeError) -> ELFFile {
    try ELFFile(store: ByteStore(mapping: path), path: path)
  }

  /// Parses an ELF image held in memory (e.g. a vDSO copied out of a process).
  public convenience init(bytes: some Collection<UInt8>, path: String) throws(SondeError) {
    try self.init(store: ByteStore(copying: bytes), path: path)
  }

  /// Parses the image in `store`.
  public init(store: ByteStore, path: String) throws(SondeError) {
    self.store = store
    self.path = path
    let header = try ELFFile.parseHeader(store: store, path: path)
    self.header = header
    let reader = store.reader(bigEndian: header.isBigEndian)
    self.reader = reader
    do throws(SondeError) {
      programHeaders = try ELFFile.parseProgramHeaders(reader, header)
      sections = try ELFFile.parseSections(reader, header)
    } catch {
      // The table parsers and the byte reader do not know the file: name it, so a truncated binary among
      // many says which one it is.
      var named = error
      named.operation = "parse ELF \(path)"
      throw named
    }
    buildID = ELFFile.findBuildID(reader, header, programHeaders, sections)
    debugLink = ELFFile.findDebugLink(reader, sections)
  }

  /// The build-id as lowercase hex, as used in `/usr/lib/debug/.build-id/` paths and by perf.
  public var buildIDHex: String? { buildID.map(hexString) }

  /// Whether the image has a `.symtab` (full symbol table, i.e. not stripped).
  public var hasSymtab: Bool { sections.contains { $0.type == ELFSection.SHT_SYMTAB } }

  /// The first section with this name.
  public func section(named name: String) -> ELFSection? { sections.first { $0.name == name } }

  /// The loadable segments in file order.
  public var loadSegments: [ELFProgramHeader] { programHeaders.filter(\.isLoad) }

  /// The virtual address of the lowest PT_LOAD segment minus its file offset, i.e. what a file offset of 0
  /// corresponds to. For position-independent images this is usually 0.
  public var firstLoadAddress: UInt64? { loadSegments.map(\.virtualAddress).min() }

  /// The ELF virtual address that `fileOffset` is loaded at, using the PT_LOAD segment that contains it.
  ///
  /// Offsets in a segment's page-alignment padding (mapped by the kernel but outside p_filesz) resolve
  /// through the segment whose page-aligned start precedes them, as the loader maps them.
  public func virtualAddress(forFileOffset fileOffset: UInt64) -> UInt64? {
    let loads = loadSegments
    if let segment = loads.first(where: { fileOffset >= $0.offset && fileOffset - $0.offset < $0.fileSize }) {
      return segment.virtualAddress &+ (fileOffset - segment.offset)
    }
    let page: UInt64 = 4096
    let candidates = loads.filter { ($0.offset & ~(page - 1)) <= fileOffset }
    guard let segment = candidates.max(by: { $0.offset < $1.offset }) else { return nil }
    return segment.virtualAddress &+ fileOffset &- segment.offset
  }

  /// The ELF virtual address of `fileOffset` as seen through `mapping` (a line of /proc/PID/maps or a
  /// perf.data MMAP2 record).
  ///
  /// Linkers often let segments share a file page (the end of the text segment and the start of the data
  /// segment), and the loader maps that page once per segment, so a file offset alone can be ambiguous. The
  /// mapping disambiguates: the segment must be mappable at the mapping's offset (its page-aligned start at or
  /// before it), and among those the one whose permissions match the mapping (executable, then writable),
  /// then the latest, wins.
  public func virtualAddress(forFileOffset fileOffset: UInt64, in mapping: MemoryMapping) -> UInt64? {
    let page: UInt64 = 4096
    let permissions = Array(mapping.permissions.utf8)
    let mappingWritable = permissions.count > 1 && permissions[1] == UInt8(ascii: "w")
    let mappingExecutable = permissions.count > 2 && permissions[2] == UInt8(ascii: "x")
    var best: (segment: ELFProgramHeader, score: Int, alignedStart: UInt64)?
    for segment in loadSegments {
      let alignedStart = segment.offset & ~(page - 1)
      let (end, overflow) = segment.offset.addingReportingOverflow(segment.fileSize)
      // Page-rounded extent, saturating: a p_filesz near 2^64 must not trap the round-up.
      let extent = (end - alignedStart).saturatingAddPage(page)
      guard !overflow, alignedStart <= mapping.offset, fileOffset >= alignedStart, fileOffset - alignedStart < extent
      else { continue }
      let writable = segment.flags & 2 != 0
      let score = (segment.isExecutable == mappingExecutable ? 2 : 0) + (writable == mappingWritable ? 1 : 0)
      if let current = best, (current.score, current.alignedStart) >= (score, alignedStart) { continue }
      best = (segment, score, alignedStart)
    }
    guard let best else { return virtualAddress(forFileOffset: fileOffset) }
    return best.segment.virtualAddress &+ fileOffset &- best.segment.offset
  }

  /// The file offset holding the byte at ELF virtual address `vaddr`, or nil if it is not file-backed.
  public func fileOffset(forVirtualAddress vaddr: UInt64) -> UInt64? {
    for segment in loadSegments where vaddr >= segment.virtualAddress {
      let delta = vaddr - segment.virtualAddress
      let (offset, overflow) = segment.offset.addingReportingOverflow(delta)
      if delta < segment.fileSize && !overflow { return offset }
    }
    return nil
  }

  /// The function symbols of `.symtab` and `.dynsym`, sorted for address lookup (decoded once, cached; the
  /// names stay in the mapped file).
  public func symbolTable() -> SymbolTable {
    symbolCache.withLock { cached in
      if let cached { return cached }
      let table = SymbolTable(
        records: ELFFile.readSymbols(reader, header, sections), sources: [store],
        pltStubs: ELFFile.pltSymbols(reader, header, sections))
      ELFFile.releaseSymbolPages(reader, sections)
      cached = table
      return table
    }
  }

  /// The function containing ELF virtual address `vaddr`, if any.
  public func symbol(containing vaddr: UInt64) -> ELFSymbol? { symbolTable().lookup(vaddr) }

  /// The defined symbols called `name` (e.g. to place a uprobe: translate `address` with
  /// `fileOffset(forVirtualAddress:)`).
  public func symbols(named name: String) throws(SondeError) -> [ELFSymbol] {
    try allSymbols().filter { $0.name == name && $0.sectionIndex != 0 }
  }

  /// All symbols of `.symtab` and `.dynsym` (every kind), throwing if a symbol table is corrupt.
  public func allSymbols() throws(SondeError) -> [ELFSymbol] {
    var result: [ELFSymbol] = []
    for section in sections where section.type == ELFSection.SHT_SYMTAB || section.type == ELFSection.SHT_DYNSYM {
      result += try ELFFile.decodeSymbols(reader, header, sections, section)
    }
    return result
  }

  /// A copy of the bytes of a section (not for SHT_NOBITS).
  public func contents(of section: ELFSection) throws(SondeError) -> [UInt8] {
    guard section.type != ELFSection.SHT_NOBITS else { return [] }
    return try reader.bytes(section.offset, section.size)
  }
}

func hexString(_ bytes: [UInt8]) -> String {
  let digits = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  out.reserveCapacity(bytes.count * 2)
  for byte in bytes {
    out.append(digits[Int(byte >> 4)])
    out.append(digits[Int(byte & 15)])
  }
  return String(decoding: out, as: UTF8.self)
}

extension UInt64 {
  /// Rounds up to a multiple of `page` (a power of two), or `UInt64.max & ~(page - 1)` when that overflows.
  fileprivate func saturatingAddPage(_ page: UInt64) -> UInt64 {
    let (sum, overflow) = addingReportingOverflow(page - 1)
    return (overflow ? .max : sum) & ~(page - 1)
  }
}
