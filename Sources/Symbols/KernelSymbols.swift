import SondeSystem

/// The kernel's symbol table from `/proc/kallsyms`: loaded once, sorted, binary-searched.
///
/// kallsyms has no sizes, so a symbol extends to the next one. Addresses read as zero when
/// `kernel.kptr_restrict` hides them from unprivileged readers; `isRestricted` reports that.
public struct KernelSymbols: Sendable {
  /// One kallsyms entry.
  public struct Symbol: Sendable, Hashable {
    public var address: UInt64
    /// The nm-style type letter (`T`, `t`, `W`, …).
    public var type: Character
    public var name: String
    /// The module name for symbols of loadable modules (`[ext4]` without brackets), nil for vmlinux.
    public var module: String?
  }

  /// One kept symbol in 16 bytes: its name lives in `names` and is made a `String` only when looked up.
  struct Entry: Sendable {
    var address: UInt64
    var nameStart: UInt32
    /// Bits 0–9: the name's length; 10–11: the type (`t`, `T`, `w`, `W`); 12–31: the module's index + 1,
    /// 0 for vmlinux.
    private var shape: UInt32

    static let types: [UInt8] = [UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "w"), UInt8(ascii: "W")]
    /// kallsyms names are at most KSYM_NAME_LEN (512) bytes; longer lines are malformed and skipped.
    static let maxNameLength = 1023
    static let maxModules = (1 << 20) - 1

    /// Nil when the name is too long, the type is not a code type, or there are too many modules.
    init?(address: UInt64, nameStart: Int, nameLength: Int, type: UInt8, module: Int32) {
      guard nameLength <= Entry.maxNameLength, let typeIndex = Entry.types.firstIndex(of: type),
        module < Entry.maxModules, let start = UInt32(exactly: nameStart)
      else { return nil }
      self.address = address
      self.nameStart = start
      shape = UInt32(nameLength) | UInt32(typeIndex) << 10 | UInt32(module + 1) << 12
    }

    var nameLength: UInt32 { shape & 0x3ff }
    var type: UInt8 { Entry.types[Int(shape >> 10 & 3)] }
    /// Index into `moduleNames`, or -1 for vmlinux.
    var module: Int32 { Int32(shape >> 12) - 1 }
  }

  /// Text symbols sorted by address, made on access.
  public struct Symbols: RandomAccessCollection, Sendable {
    let table: KernelSymbols
    public var startIndex: Int { 0 }
    public var endIndex: Int { table.entries.count }
    public subscript(i: Int) -> Symbol { table.symbol(table.entries[i]) }
  }

  /// Text symbols sorted by address.
  public var symbols: Symbols { Symbols(table: self) }
  /// True when every address was zero (kptr_restrict).
  public let isRestricted: Bool
  /// Loaded modules by name, from `/proc/modules`, when their load addresses are visible.
  public let modules: [String: KernelModule]
  let entries: [Entry]
  /// The kept symbols' names, back to back.
  let names: [UInt8]
  let moduleNames: [String]

  /// Parses kallsyms text, keeping code symbols (types t/T/w/W), and optionally `/proc/modules` text.
  public init(parsing text: String, modules: String? = nil) {
    self.init(parsing: Array(text.utf8), modules: modules.map { Array($0.utf8) })
  }

  /// Parses kallsyms bytes, keeping code symbols (types t/T/w/W), and optionally `/proc/modules` bytes.
  ///
  /// kallsyms has 100k+ lines and is read whenever a profile has kernel frames, so it is parsed as bytes
  /// into fixed-size entries and one buffer of names: no `String` is made until a symbol is looked up.
  public init(parsing bytes: [UInt8], modules modulesBytes: [UInt8]? = nil) {
    var builder = Builder(lines: bytes.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 } + 1, bytes: bytes.count)
    bytes.withUnsafeBufferPointer { builder.add(lines: $0) }
    self.init(builder, modules: modulesBytes)
  }

  private init(_ built: Builder, modules modulesBytes: [UInt8]?) {
    var loaded: [String: KernelModule] = [:]
    for module in KernelModule.parse(modulesBytes ?? []) where module.address != 0 { loaded[module.name] = module }
    modules = loaded
    var entries = built.entries
    // kallsyms lists vmlinux in address order and modules after it: usually sorted already.
    if !zip(entries, entries.dropFirst()).allSatisfy({ $0.address <= $1.address }) {
      entries.sort { $0.address != $1.address ? $0.address < $1.address : $0.nameStart < $1.nameStart }
    }
    self.entries = entries
    names = built.names
    moduleNames = built.moduleNames
    isRestricted = !built.nonZero && built.sawAny
  }

  /// The table under construction, fed whole lines. Sized up front from the line and byte counts, so the
  /// arrays are not regrown (doubling them would hold twice the table at the peak).
  private struct Builder {
    var entries: [Entry] = []
    var names: [UInt8] = []
    var moduleNames: [String] = []
    var moduleIndex: [String: Int32] = [:]
    var nonZero = false
    var sawAny = false

    init(lines: Int, bytes: Int) {
      entries.reserveCapacity(lines)
      // Each line spends at least 20 bytes on its address, type, spaces and newline.
      names.reserveCapacity(max(0, bytes - 20 * max(0, lines - 1)))
    }

    /// Adds the complete lines in `buffer`.
    mutating func add(lines buffer: UnsafeBufferPointer<UInt8>) {
      let count = buffer.count
      var i = 0
      while i < count {
        let lineStart = i
        while i < count && buffer[i] != 0x0A { i += 1 }
        let lineEnd = i
        i += 1
        guard let line = KernelSymbols.parseLine(buffer, lineStart, lineEnd) else { continue }
        sawAny = true
        if line.address != 0 { nonZero = true }
        switch line.type {
        case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "w"), UInt8(ascii: "W"): break
        default: continue
        }
        var module: Int32 = -1
        if let range = line.module {
          let name = String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
          if let known = moduleIndex[name] {
            module = known
          } else {
            module = Int32(moduleNames.count)
            moduleIndex[name] = module
            moduleNames.append(name)
          }
        }
        guard
          let entry = Entry(
            address: line.address, nameStart: names.count, nameLength: line.name.count, type: line.type,
            module: module)
        else { continue }
        entries.append(entry)
        names.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[line.name]))
      }
    }
  }

  func symbol(_ e: Entry) -> Symbol {
    let start = Int(e.nameStart)
    let name = names.withUnsafeBufferPointer {
      String(decoding: UnsafeBufferPointer(rebasing: $0[start..<start + Int(e.nameLength)]), as: UTF8.self)
    }
    return Symbol(
      address: e.address, type: Character(Unicode.Scalar(e.type)), name: name,
      module: e.module >= 0 ? moduleNames[Int(e.module)] : nil)
  }

  /// One `address type name[\t[module]]` line: the address, the type byte, where the name and the module
  /// name (without brackets) sit; nil when malformed.
  fileprivate static func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (
    address: UInt64, type: UInt8, name: Range<Int>, module: Range<Int>?
  )? {
    var i = start
    var address: UInt64 = 0
    var digits = 0
    while i < end, let value = hexValue(b[i]) {
      guard digits < 16 else { return nil }
      address = address << 4 | UInt64(value)
      digits += 1
      i += 1
    }
    guard digits > 0, i < end, b[i] == 0x20 else { return nil }
    i += 1
    guard i < end else { return nil }
    let type = b[i]
    i += 1
    guard i < end, b[i] == 0x20 else { return nil }
    i += 1
    let nameStart = i
    while i < end && b[i] != 0x09 && b[i] != 0x20 { i += 1 }
    guard i > nameStart else { return nil }
    let name = nameStart..<i
    var module: Range<Int>?
    while i < end && (b[i] == 0x09 || b[i] == 0x20) { i += 1 }
    if i < end, b[i] == 0x5B {
      var close = end
      while close > i && b[close - 1] != 0x5D { close -= 1 }
      if close - 1 > i + 1 { module = (i + 1)..<(close - 1) }
    }
    return (address, type, name, module)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x61...0x66: byte - 0x61 + 10
    case 0x41...0x46: byte - 0x41 + 10
    default: nil
    }
  }

  /// Reads `/proc/kallsyms` and, when present (kernels built with module support), `/proc/modules`.
  ///
  /// The file is streamed twice in 256 KiB pieces (once to count its lines and bytes, once to parse), so
  /// the several megabytes of text are never held at once: the table is all that stays.
  public static func load(
    path: String = "/proc/kallsyms", modulesPath: String = "/proc/modules"
  ) throws(SondeError) -> KernelSymbols {
    func failure() -> SondeError {
      SondeError(
        .permissionDenied, operation: "read \(path)", reason: "cannot read the kernel symbol table",
        remedy: "run as root, or lower kernel.kptr_restrict")
    }
    var lines = 0
    var bytes = 0
    guard
      streamFileLines(
        path,
        { chunk in
          bytes += chunk.count
          for b in chunk where b == 0x0A { lines += 1 }
        })
    else { throw failure() }
    var builder = Builder(lines: lines + 1, bytes: bytes)
    guard streamFileLines(path, { builder.add(lines: $0) }) else { throw failure() }
    return KernelSymbols(builder, modules: readFileBytes(modulesPath))
  }

  /// The symbol whose range contains `address`, and the offset into it.
  public func lookup(_ address: UInt64) -> (symbol: Symbol, offset: UInt64)? {
    guard !isRestricted else { return nil }
    let low = entries.countOfElements(keyedAtMost: address) { $0.address }
    guard low > 0 else { return nil }
    let entry = entries[low - 1]
    let symbol = self.symbol(entry)
    // kallsyms has no sizes: a symbol extends to the next one. A module's symbols end where /proc/modules
    // says the module's memory ends.
    if let name = symbol.module, let module = modules[name] {
      return module.contains(address) ? (symbol, address - entry.address) : nil
    }
    // Without module bounds, the last symbol of the table or of a module would extend to the next symbol, so
    // bound it (1 MiB) rather than attributing the rest of the address space to it.
    let isLastOfItsText = low == entries.count || entries[low].module != entry.module
    if isLastOfItsText && address - entry.address >= 1 << 20 { return nil }
    return (symbol, address - entry.address)
  }
}
