import SondeSystem
#if canImport(Glibc)
  import Glibc
#endif

/// A whole perf.data input in memory: a regular file mapped read-only, or a stream (standard input, a
/// FIFO, a device) read record by record and checked as it arrives, so garbage is rejected at its first
/// bad bytes (`-i /dev/zero` fails on the magic after 8 bytes) instead of being read into memory whole.
public final class MappedFile: @unchecked Sendable {
  public let bytes: UnsafeRawBufferPointer
  private let mapped: Bool

  /// Maps `path`, or reads it as a perf.data stream when it cannot be mapped (pipes, devices, empty files).
  public init(path: String) throws(SondeError) {
    // "-" is standard input, as perf report -i - reads a pipe-mode stream.
    let fd = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      throw SondeError(
        code == ENOENT ? .invalidInput : code == EACCES ? .permissionDenied : .system, operation: "open(\(path))",
        errno: code, reason: code == ENOENT ? "no such file" : errnoDescription(code),
        remedy: code == ENOENT ? "record one first with 'sonde record', or pass -i FILE" : nil)
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw SondeError.system("fstat(\(path))") }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      throw SondeError.invalid("open(\(path))", "is a directory", remedy: "pass a perf.data file with -i")
    }
    if (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0,
      let p = mmap(nil, Int(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED
    {
      bytes = UnsafeRawBufferPointer(start: p, count: Int(st.st_size))
      mapped = true
      return
    }
    let data = try PerfDataStream.read(fd: fd, path: path)
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
