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
    let fd: FileDescriptor
    do {
      fd = path == "-" ? FileDescriptor(borrowing: 0) : try FileDescriptor.open(path, O_RDONLY)
    } catch {
      let code = error.errno ?? 0
      throw SondeError(
        code == ENOENT ? .invalidInput : code == EACCES ? .permissionDenied : .system, operation: "open(\(path))",
        errno: code, reason: code == ENOENT ? "no such file" : errnoDescription(code),
        remedy: code == ENOENT ? "record one first with 'sonde record', or pass -i FILE" : nil)
    }
    defer { fd.close() }
    let st = try fd.status()
    if (st.st_mode & S_IFMT) == S_IFDIR {
      throw SondeError.invalid("open(\(path))", "is a directory", remedy: "pass a perf.data file with -i")
    }
    if (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0,
      let p = try? fd.map(length: Int(st.st_size), protection: PROT_READ, flags: MAP_PRIVATE)
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

  /// Lets go of the pages wholly before byte `offset`, which a reader that streams through the file no longer
  /// needs: memory stays bounded by the reader's window, not the file's size. A later access reads them again.
  public func dropPages(before offset: Int) {
    guard mapped, let base = bytes.baseAddress else { return }
    let page = Self.pageSize
    let end = min(offset, bytes.count) / page * page
    guard end > droppedUpTo else { return }
    Syscall.dropPages(base + droppedUpTo, length: end - droppedUpTo)
    droppedUpTo = end
  }

  private var droppedUpTo = 0
  private static let pageSize = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

  /// Wraps bytes already in memory (tests, fuzzing).
  public init(copying data: [UInt8]) {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, data.count), alignment: 8)
    data.withUnsafeBytes { if let b = $0.baseAddress { copy.baseAddress!.copyMemory(from: b, byteCount: $0.count) } }
    bytes = UnsafeRawBufferPointer(start: copy.baseAddress, count: data.count)
    mapped = false
  }

  deinit {
    if mapped {
      Syscall.unmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), length: bytes.count)
    } else {
      UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
    }
  }
}
