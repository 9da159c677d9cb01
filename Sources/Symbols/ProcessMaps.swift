import SondeSystem

/// One line of `/proc/PID/maps`.
public struct MemoryMapping: Sendable, Hashable {
  /// What backs the mapping.
  public enum Kind: Sendable, Hashable {
    /// A file (possibly deleted since it was mapped).
    case file
    /// Anonymous memory (no path): JIT code lives here, described by /tmp/perf-PID.map.
    case anonymous
    case heap
    case stack
    /// The kernel-provided shared object; its image can be read from the process memory.
    case vdso
    case vvar
    case vsyscall
    /// Another bracketed name such as `[anon:…]` or `[uprobes]`.
    case special(String)
  }

  public var start: UInt64
  public var end: UInt64
  /// `r-xp` style permission string.
  public var permissions: String
  /// The file offset the mapping starts at.
  public var offset: UInt64
  /// Device as `major:minor` (hex) and inode of the backing file (0 for anonymous).
  public var device: String
  public var inode: UInt64
  /// The path as printed, without the ` (deleted)` suffix.
  public var path: String
  /// Whether the kernel marked the file `(deleted)`: it was unlinked or replaced after being mapped.
  public var isDeleted: Bool
  public var kind: Kind

  public init(
    start: UInt64, end: UInt64, permissions: String = "r-xp", offset: UInt64, device: String = "00:00",
    inode: UInt64 = 0, path: String, isDeleted: Bool = false, kind: Kind = .file
  ) {
    self.start = start
    self.end = end
    self.permissions = permissions
    self.offset = offset
    self.device = device
    self.inode = inode
    self.path = path
    self.isDeleted = isDeleted
    self.kind = kind
  }

  public var isExecutable: Bool { permissions.utf8.dropFirst(2).first == UInt8(ascii: "x") }
  public func contains(_ address: UInt64) -> Bool { address >= start && address < end }
  /// The file offset of `address` inside the backing file.
  /// Wrapping: `offset` comes from /proc and can be near 2^64 (a device mapped at a high offset).
  public func fileOffset(of address: UInt64) -> UInt64 { address &- start &+ offset }
  /// The last path component, for short display.
  public var moduleName: String { path.split(separator: "/").last.map(String.init) ?? path }
}

/// The memory map of a process, parsed from `/proc/PID/maps`, with binary search by address.
public struct ProcessMaps: Sendable {
  public var pid: Int32
  /// Sorted by start address.
  public var mappings: [MemoryMapping]

  /// Parses the text of a maps file.
  public init(pid: Int32, parsing text: String) {
    self.pid = pid
    var result: [MemoryMapping] = []
    for line in text.split(separator: "\n") {
      if let mapping = ProcessMaps.parseLine(line) { result.append(mapping) }
    }
    mappings = result.sorted { $0.start < $1.start }
  }

  /// Reads `/proc/PID/maps`.
  public static func read(pid: Int32) throws(SondeError) -> ProcessMaps {
    guard let text = readSmallFile("/proc/\(pid)/maps") else {
      let exists = fileExists("/proc/\(pid)")
      throw SondeError(
        exists ? .permissionDenied : .noSuchProcess, operation: "read /proc/\(pid)/maps",
        reason: exists ? "cannot read the memory map" : "no such process",
        remedy: exists ? "run as root or with CAP_SYS_PTRACE" : "check the pid")
    }
    return ProcessMaps(pid: pid, parsing: text)
  }

  /// The mapping containing `address`.
  public func mapping(containing address: UInt64) -> MemoryMapping? {
    let low = mappings.countOfElements(keyedAtMost: address) { $0.start }
    guard low > 0, mappings[low - 1].contains(address) else { return nil }
    return mappings[low - 1]
  }

  /// The start of the first mapping of the same file (the module's base), used for `[unknown]` offsets.
  public func moduleBase(of mapping: MemoryMapping) -> UInt64 {
    guard mapping.kind == .file else { return mapping.start }
    let same = mappings.filter { $0.inode == mapping.inode && $0.device == mapping.device && $0.path == mapping.path }
    return (same.map { $0.start &- $0.offset }.min()) ?? mapping.start
  }

  static func parseLine(_ line: Substring) -> MemoryMapping? {
    // start-end perms offset dev inode [path]; the path may contain spaces.
    var fields: [Substring] = []
    var rest = line[...]
    for _ in 0..<5 {
      rest = rest.drop { $0 == " " }
      guard let space = rest.firstIndex(of: " ") else {
        if !rest.isEmpty { fields.append(rest) }
        rest = rest[rest.endIndex...]
        break
      }
      fields.append(rest[..<space])
      rest = rest[space...]
    }
    guard fields.count == 5 else { return nil }
    let range = fields[0].split(separator: "-")
    guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
      let offset = UInt64(fields[2], radix: 16), let inode = UInt64(fields[4])
    else { return nil }
    var path = String(rest.drop { $0 == " " })
    var deleted = false
    if path.hasSuffix(" (deleted)") {
      deleted = true
      path.removeLast(" (deleted)".count)
    }
    let kind: MemoryMapping.Kind
    switch path {
    case "": kind = .anonymous
    case "[heap]": kind = .heap
    case "[stack]": kind = .stack
    case "[vdso]": kind = .vdso
    case "[vvar]", "[vvar_vclock]": kind = .vvar
    case "[vsyscall]": kind = .vsyscall
    default: kind = path.hasPrefix("[") && path.hasSuffix("]") ? .special(path) : .file
    }
    return MemoryMapping(
      start: start, end: end, permissions: String(fields[1]), offset: offset, device: String(fields[3]),
      inode: inode, path: path, isDeleted: deleted, kind: kind)
  }
}
