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

  /// Text symbols sorted by address.
  public let symbols: [Symbol]
  /// True when every address was zero (kptr_restrict).
  public let isRestricted: Bool
  /// Loaded modules by name, from `/proc/modules`, when their load addresses are visible.
  public let modules: [String: KernelModule]

  /// Parses kallsyms text, keeping code symbols (types t/T/w/W), and optionally `/proc/modules` text.
  public init(parsing text: String, modules: String? = nil) {
    self.init(parsing: Array(text.utf8), modules: modules.map { Array($0.utf8) })
  }

  /// Parses kallsyms bytes, keeping code symbols (types t/T/w/W), and optionally `/proc/modules` bytes.
  ///
  /// Works on bytes and makes a `String` only for the symbols it keeps: kallsyms has 100k+ lines and is
  /// parsed whenever a profile has kernel frames, so line splitting into substrings would dominate a report.
  public init(parsing bytes: [UInt8], modules modulesBytes: [UInt8]? = nil) {
    var loaded: [String: KernelModule] = [:]
    for module in KernelModule.parse(modulesBytes ?? []) where module.address != 0 { loaded[module.name] = module }
    modules = loaded
    var result: [Symbol] = []
    result.reserveCapacity(bytes.count / 64)
    var nonZero = false
    var sawAny = false
    bytes.withUnsafeBufferPointer { buffer in
      let count = buffer.count
      var i = 0
      while i < count {
        let lineStart = i
        while i < count && buffer[i] != 0x0A { i += 1 }
        let lineEnd = i
        i += 1
        if let symbol = Self.parseLine(buffer, lineStart, lineEnd) {
          sawAny = true
          if symbol.address != 0 { nonZero = true }
          if "tTwW".contains(symbol.type) { result.append(symbol) }
        }
      }
    }
    symbols = result.sorted { $0.address < $1.address }
    isRestricted = !nonZero && sawAny
  }

  /// One `address type name[\t[module]]` line, or nil when malformed.
  private static func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Symbol? {
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
    let type = Character(Unicode.Scalar(b[i]))
    i += 1
    guard i < end, b[i] == 0x20 else { return nil }
    i += 1
    let nameStart = i
    while i < end && b[i] != 0x09 && b[i] != 0x20 { i += 1 }
    guard i > nameStart else { return nil }
    let name = String(decoding: UnsafeBufferPointer(rebasing: b[nameStart..<i]), as: UTF8.self)
    var module: String?
    while i < end && (b[i] == 0x09 || b[i] == 0x20) { i += 1 }
    if i < end, b[i] == 0x5B {
      var close = end
      while close > i && b[close - 1] != 0x5D { close -= 1 }
      if close - 1 > i + 1 {
        module = String(decoding: UnsafeBufferPointer(rebasing: b[(i + 1)..<(close - 1)]), as: UTF8.self)
      }
    }
    return Symbol(address: address, type: type, name: name, module: module)
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
  public static func load(
    path: String = "/proc/kallsyms", modulesPath: String = "/proc/modules"
  ) throws(SondeError) -> KernelSymbols {
    guard let bytes = readFileBytes(path) else {
      throw SondeError(
        .permissionDenied, operation: "read \(path)", reason: "cannot read the kernel symbol table",
        remedy: "run as root, or lower kernel.kptr_restrict")
    }
    return KernelSymbols(parsing: bytes, modules: readFileBytes(modulesPath))
  }

  /// The symbol whose range contains `address`, and the offset into it.
  public func lookup(_ address: UInt64) -> (symbol: Symbol, offset: UInt64)? {
    guard !isRestricted else { return nil }
    var low = 0
    var high = symbols.count
    while low < high {
      let mid = (low + high) / 2
      if symbols[mid].address <= address { low = mid + 1 } else { high = mid }
    }
    guard low > 0 else { return nil }
    let symbol = symbols[low - 1]
    // kallsyms has no sizes: a symbol extends to the next one. A module's symbols end where /proc/modules
    // says the module's memory ends.
    if let name = symbol.module, let module = modules[name] {
      return module.contains(address) ? (symbol, address - symbol.address) : nil
    }
    // Without module bounds, the last symbol of the table or of a module would extend to the next symbol, so
    // bound it (1 MiB) rather than attributing the rest of the address space to it.
    let isLastOfItsText = low == symbols.count || symbols[low].module != symbol.module
    if isLastOfItsText && address - symbol.address >= 1 << 20 { return nil }
    return (symbol, address - symbol.address)
  }
}
