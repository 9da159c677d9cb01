#if canImport(Glibc)
  import Glibc
#endif

/// A whole file mapped read-only (or read into memory when it cannot be mapped, e.g. a pipe).
public final class MappedFile: @unchecked Sendable {
  public let bytes: UnsafeRawBufferPointer
  private let mapped: Bool

  /// Maps `path`; reads it instead when mmap is not possible (pipes, empty files).
  public init(path: String) throws(SondeError) {
    // "-" is standard input, as perf report -i - reads a pipe-mode stream.
    let fd = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw SondeError(
        errno == ENOENT ? .invalidInput : .system, operation: "open(\(path))", errno: errno,
        reason: errno == ENOENT ? "no such file" : errnoDescription(errno),
        remedy: errno == ENOENT ? "record one first with 'sonde record', or pass -i FILE" : nil)
    }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0,
      let p = mmap(nil, Int(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED
    {
      bytes = UnsafeRawBufferPointer(start: p, count: Int(st.st_size))
      mapped = true
      return
    }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw SondeError.system("read(\(path))")
      }
      if n == 0 { break }
      data.append(contentsOf: chunk[0..<n])
    }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, data.count), alignment: 8)
    data.withUnsafeBytes { if let b = $0.baseAddress { copy.baseAddress!.copyMemory(from: b, byteCount: $0.count) } }
    bytes = UnsafeRawBufferPointer(start: copy.baseAddress, count: data.count)
    mapped = false
  }

  /// Wraps bytes already in memory (tests, fuzzing).
  public init(copying data: [UInt8]) {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, data.count), alignment: 8)
    data.withUnsafeBytes { if let b = $0.baseAddress { copy.baseAddress!.copyMemory(from: b, byteCount: $0.count) } }
    bytes = UnsafeRawBufferPointer(start: copy.baseAddress, count: data.count)
    mapped = false
  }

  deinit {
    if mapped {
      munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    } else {
      UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
    }
  }
}
