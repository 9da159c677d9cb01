#if canImport(Glibc)
  import Glibc
#endif
import SondeSystem

/// Immutable bytes of an ELF image: a read-only memory mapping of a file, or a private heap copy
/// (used for images read out of another process, such as its vDSO, and for tests).
///
/// All reads go through `ByteReader`, which bounds-checks every access, so a corrupt file can only
/// produce a `SondeError`, never an out-of-bounds load.
public final class ByteStore: @unchecked Sendable {
  /// Start of the bytes; valid for `count` bytes while this object lives.
  let base: UnsafeRawPointer?
  /// Number of readable bytes.
  public let count: Int
  /// Whether the bytes are a file mapping (pages the kernel can drop and read back) rather than a heap copy.
  let isMapped: Bool

  /// Maps `path` read-only. Throws if the file cannot be opened, is not a regular file, or cannot be mapped.
  /// Opened non-blocking, so a FIFO where a binary should be (planted by whoever owns that path) is refused
  /// at once instead of blocking the reader until someone writes to it.
  public init(mapping path: String) throws(SondeError) {
    let fd: FileDescriptor
    do {
      fd = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY)
    } catch {
      let code = error.errno ?? 0
      let kind: SondeError.Kind =
        code == EACCES || code == EPERM ? .permissionDenied : code == ENOENT ? .invalidInput : .system
      throw SondeError(kind, operation: "open(\(path))", errno: code, reason: errnoDescription(code))
    }
    defer { fd.close() }
    let info = try fd.status()
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw SondeError.invalid(
        "open(\(path))", "not a regular file (\(fileTypeName(info.st_mode)))",
        remedy: "pass an ELF executable or library")
    }
    let size = Int(info.st_size)
    count = size
    isMapped = size > 0
    if size == 0 {
      base = nil
      return
    }
    base = UnsafeRawPointer(try fd.map(length: size, protection: PROT_READ, flags: MAP_PRIVATE))
  }

  /// Copies `bytes` into storage owned by this object.
  public init(copying bytes: some Collection<UInt8>) {
    count = bytes.count
    isMapped = false
    if bytes.isEmpty {
      base = nil
      return
    }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 16)
    buffer.copyBytes(from: bytes)
    base = UnsafeRawPointer(buffer.baseAddress)
  }

  deinit {
    guard let base else { return }
    if isMapped {
      Syscall.unmap(UnsafeMutableRawPointer(mutating: base), length: count)
    } else {
      base.deallocate()
    }
  }

  /// Drops the whole pages under `[offset, offset + size)` from this process's memory, when the bytes are a
  /// file mapping: they are read back from the file if touched again. Used after decoding a large section
  /// once, so its pages do not stay resident for the life of the image.
  func dropPages(_ offset: UInt64, _ size: UInt64) {
    guard isMapped, let base, size > 0, offset < UInt64(count) else { return }
    let page = UInt64(4096)
    let start = offset & ~(page - 1)
    let end = min(UInt64(count), offset.addingReportingOverflow(size).overflow ? UInt64.max : offset + size)
    Syscall.dropPages(base + Int(start), length: Int(end - start))
  }

  /// A bounds-checked reader over the whole store with the given byte order.
  func reader(bigEndian: Bool = false) -> ByteReader {
    ByteReader(store: self, bigEndian: bigEndian)
  }
}

/// Bounds-checked, endian-aware reads from a `ByteStore`. Every accessor throws `corruptData` when the
/// requested range is not entirely inside the store (including on integer overflow of offset + size).
struct ByteReader {
  let store: ByteStore
  let bigEndian: Bool

  var count: Int { store.count }

  /// Whether `[offset, offset + size)` lies inside the store.
  func contains(offset: UInt64, size: UInt64) -> Bool {
    let (end, overflow) = offset.addingReportingOverflow(size)
    return !overflow && end <= UInt64(store.count)
  }

  func check(_ offset: UInt64, _ size: UInt64, _ what: @autoclosure () -> String) throws(SondeError) {
    guard contains(offset: offset, size: size) else {
      throw SondeError(
        .corruptData, operation: "read ELF",
        reason: "\(what()) at offset \(offset) size \(size) is past the end "
          + "of the \(store.count)-byte image")
    }
  }

  private func load<T: FixedWidthInteger>(_ offset: UInt64, as type: T.Type) throws(SondeError) -> T {
    try check(offset, UInt64(MemoryLayout<T>.size), "field")
    // check() guarantees base is non-nil when size > 0.
    guard let base = store.base else { throw SondeError(.corruptData, operation: "read ELF", reason: "empty") }
    let raw = base.loadUnaligned(fromByteOffset: Int(offset), as: T.self)
    return bigEndian ? T(bigEndian: raw) : T(littleEndian: raw)
  }

  func u8(_ offset: UInt64) throws(SondeError) -> UInt8 { try load(offset, as: UInt8.self) }
  func u16(_ offset: UInt64) throws(SondeError) -> UInt16 { try load(offset, as: UInt16.self) }
  func u32(_ offset: UInt64) throws(SondeError) -> UInt32 { try load(offset, as: UInt32.self) }
  func u64(_ offset: UInt64) throws(SondeError) -> UInt64 { try load(offset, as: UInt64.self) }

  /// A 32- or 64-bit "word" (address, offset, size) depending on the ELF class.
  func word(_ offset: UInt64, is64: Bool) throws(SondeError) -> UInt64 {
    is64 ? try u64(offset) : UInt64(try u32(offset))
  }

  /// Copies `size` bytes at `offset`.
  func bytes(_ offset: UInt64, _ size: UInt64) throws(SondeError) -> [UInt8] {
    try check(offset, size, "bytes")
    guard size > 0, let base = store.base else { return [] }
    return Array(UnsafeRawBufferPointer(start: base + Int(offset), count: Int(size)))
  }

  /// The length of the NUL-terminated string at `offset` that ends before `limit` (exclusive); nil when the
  /// offset is out of range or no terminator occurs before the limit.
  func cStringLength(_ offset: UInt64, limit: UInt64) -> Int? {
    let end = min(limit, UInt64(store.count))
    guard offset < end, let base = store.base else { return nil }
    let start = base + Int(offset)
    guard let terminator = memchr(start, 0, Int(end - offset)) else { return nil }
    return UnsafeRawPointer(terminator) - start
  }

  /// The `length` bytes at `offset` as UTF-8 (invalid sequences repaired); empty when out of range.
  func string(_ offset: UInt64, length: UInt32) -> String {
    (try? withBytes(offset, UInt64(length)) { String(decoding: $0, as: UTF8.self) }) ?? ""
  }

  /// How many of the `length` bytes at `offset` are leading underscores (0 when out of range).
  func leadingUnderscores(_ offset: UInt64, length: UInt32) -> Int {
    (try? withBytes(offset, UInt64(length)) { $0.prefix { $0 == UInt8(ascii: "_") }.count }) ?? 0
  }

  /// A NUL-terminated string starting at `offset` and not extending past `limit` (exclusive).
  /// Returns nil when the offset is out of range or no terminator occurs before the limit.
  func cString(_ offset: UInt64, limit: UInt64) -> String? {
    guard let length = cStringLength(offset, limit: limit), let length32 = UInt32(exactly: length) else { return nil }
    return string(offset, length: length32)
  }

  /// Runs `body` over the raw bytes `[offset, offset + size)` after bounds checking.
  func withBytes<R>(
    _ offset: UInt64, _ size: UInt64, _ body: (UnsafeRawBufferPointer) -> R
  ) throws(SondeError) -> R {
    try check(offset, size, "bytes")
    guard size > 0, let base = store.base else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
    return body(UnsafeRawBufferPointer(start: base + Int(offset), count: Int(size)))
  }
}
