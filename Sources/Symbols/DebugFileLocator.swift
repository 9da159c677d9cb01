import SondeSystem

/// Finds the separate debug file of a stripped binary, as gdb and perf do:
/// 1. by build-id: `<debug-root>/.build-id/xx/yyyy….debug`;
/// 2. by `.gnu_debuglink`: `<dir>/<name>`, `<dir>/.debug/<name>`, `<debug-root><dir>/<name>`,
///    accepting a candidate only if its CRC32 matches the link (or its build-id matches the binary's).
public struct DebugFileLocator: Sendable {
  /// Global debug directories, `/usr/lib/debug` by default.
  public var debugRoots: [String]
  /// Prefix applied to every path (e.g. `/proc/PID/root` to look inside a container).
  public var rootPrefix: String

  public init(debugRoots: [String] = ["/usr/lib/debug"], rootPrefix: String = "") {
    self.debugRoots = debugRoots
    self.rootPrefix = rootPrefix
  }

  /// The build-id paths that would be searched for `buildIDHex`.
  public func buildIDPaths(_ buildIDHex: String) -> [String] {
    guard buildIDHex.count > 2 else { return [] }
    let head = buildIDHex.prefix(2)
    let tail = buildIDHex.dropFirst(2)
    return debugRoots.map { "\(rootPrefix)\($0)/.build-id/\(head)/\(tail).debug" }
  }

  /// The debuglink paths that would be searched for a binary at `binaryPath` (path as seen by the target).
  public func debugLinkPaths(binaryPath: String, link: ELFFile.DebugLink) -> [String] {
    let directory = binaryPath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/")
    var paths = ["\(rootPrefix)\(directory)/\(link.fileName)", "\(rootPrefix)\(directory)/.debug/\(link.fileName)"]
    for root in debugRoots { paths.append("\(rootPrefix)\(root)\(directory)/\(link.fileName)") }
    return paths
  }

  /// The separate debug file for `binary` (opened from `binaryPath` as the target sees it), or nil.
  public func locate(for binary: ELFFile, binaryPath: String) -> ELFFile? {
    if let hex = binary.buildIDHex {
      for path in buildIDPaths(hex) where fileExists(path) {
        if let file = try? ELFFile.open(path: path), file.buildID == binary.buildID { return file }
      }
    }
    if let link = binary.debugLink {
      for path in debugLinkPaths(binaryPath: binaryPath, link: link) where fileExists(path) {
        guard path != binary.path, let file = try? ELFFile.open(path: path) else { continue }
        if let id = binary.buildID, file.buildID == id { return file }
        if file.store.crc32() == link.crc { return file }
      }
    }
    return nil
  }
}

extension ByteStore {
  /// The CRC-32 (IEEE, as used by `.gnu_debuglink`) of the whole store.
  func crc32() -> UInt32 {
    guard let base else { return 0 }
    return Symbols.crc32(UnsafeRawBufferPointer(start: base, count: count))
  }
}

private let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
  var c = UInt32(n)
  for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
  return c
}

/// CRC-32 (polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).
public func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
  var crc: UInt32 = 0xffff_ffff
  crcTable.withUnsafeBufferPointer { table in
    for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
  }
  return crc ^ 0xffff_ffff
}
