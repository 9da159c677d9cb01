#if canImport(Glibc)
  import Glibc
#endif
import CSonde

/// An owned file descriptor: closed exactly once, by `close()` or when the last reference goes. Every fd
/// owner in Sonde (perf events, rings, epoll sets, mapped files, output files, BPF readers) holds one of
/// these rather than a raw `Int32`, so no error path can leak or double-close a descriptor.
///
/// Its methods are the syscall funnel's fd operations: each retries EINTR, captures errno before anything
/// else runs, and throws a `SondeError` naming the operation.
public final class FileDescriptor: @unchecked Sendable, CustomStringConvertible {
  /// The descriptor number, or -1 once closed.
  public private(set) var rawValue: Int32
  private let owned: Bool

  /// Takes ownership of `rawValue` (it is closed with this object).
  public init(owning rawValue: Int32) {
    self.rawValue = rawValue
    owned = true
  }

  /// Wraps a descriptor someone else owns (standard input/output): never closed here.
  public init(borrowing rawValue: Int32) {
    self.rawValue = rawValue
    owned = false
  }

  deinit { close() }

  public var description: String { "fd \(rawValue)" }

  /// Closes the descriptor now; safe to call twice. close(2)'s EINTR is not retried (Linux has already
  /// released the descriptor by then).
  public func close() {
    if owned && rawValue >= 0 { _ = Glibc.close(rawValue) }
    rawValue = -1
  }

  /// Opens `path` (O_CLOEXEC is always added).
  public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(SondeError) -> FileDescriptor {
    let fd = try Syscall.call("open(\(path))") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    return FileDescriptor(owning: fd)
  }

  /// A second descriptor for the same open file, owned by the result.
  public func duplicate() throws(SondeError) -> FileDescriptor {
    FileDescriptor(owning: try Syscall.call("dup(\(rawValue))") { dup(rawValue) })
  }

  /// Gives up ownership: the caller (e.g. libbpf, which closes what it is given) owns the number now.
  public func release() -> Int32 {
    let fd = rawValue
    rawValue = -1
    return fd
  }

  /// read(2) into `buffer`: the bytes read, 0 at end of file.
  public func read(into buffer: UnsafeMutableRawBufferPointer, _ what: @autoclosure () -> String = "read")
    throws(SondeError) -> Int
  {
    try Syscall.call(what()) { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
  }

  /// pread(2) at `offset`.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SondeError) -> Int {
    try Syscall.call("pread(\(rawValue))") { pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
  }

  /// Writes all of `bytes`, retrying short writes.
  public func writeAll(_ bytes: UnsafeRawBufferPointer, _ what: @autoclosure () -> String = "write") throws(SondeError)
  {
    var done = 0
    while done < bytes.count {
      let n = try Syscall.call(what()) { Glibc.write(rawValue, bytes.baseAddress! + done, bytes.count - done) }
      if n == 0 { throw SondeError.system(what(), errno: EIO) }
      done += n
    }
  }

  /// Writes all of `segments` in order with writev(2), at most IOV_MAX at a time, retrying short writes:
  /// memory scattered over many places (records in several rings) goes to the file without being gathered
  /// into one buffer first. Returns how many bytes reached the file and, if it stopped early, why.
  public func writeAll(segments: [UnsafeRawBufferPointer], _ what: @autoclosure () -> String = "writev")
    -> (written: Int, error: SondeError?)
  {
    var vectors = segments.filter { !$0.isEmpty }.map {
      iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
    }
    var first = 0
    var written = 0
    while first < vectors.count {
      let count = min(vectors.count - first, 1024)  // IOV_MAX on Linux
      let fd = rawValue
      let start = first
      let (result, code) = vectors.withUnsafeBufferPointer { all in
        Syscall.retrying { writev(fd, all.baseAddress! + start, Int32(count)) }
      }
      if result < 0 { return (written, SondeError.system(what(), errno: code)) }
      if result == 0 { return (written, SondeError.system(what(), errno: EIO)) }
      written += result
      // Skip what was written; a short write leaves the rest of a segment for the next call.
      var n = result
      while n > 0 && first < vectors.count {
        if n >= vectors[first].iov_len {
          n -= vectors[first].iov_len
          first += 1
        } else {
          vectors[first].iov_base += n
          vectors[first].iov_len -= n
          n = 0
        }
      }
    }
    return (written, nil)
  }

  /// Writes all of `bytes` at `offset` (pwrite(2), the file position untouched).
  public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int64, _ what: @autoclosure () -> String = "pwrite")
    throws(SondeError)
  {
    var done = 0
    while done < bytes.count {
      let n = try Syscall.call(what()) {
        pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
      }
      if n == 0 { throw SondeError.system(what(), errno: EIO) }
      done += n
    }
  }

  /// Writes all of `bytes` (at `offset` with pwrite(2), else at the file position).
  public func writeAll(_ bytes: [UInt8], at offset: Int64? = nil, _ what: @autoclosure () -> String = "write")
    throws(SondeError)
  {
    var failure: SondeError?
    bytes.withUnsafeBytes { buffer in
      do throws(SondeError) {
        if let offset { try writeAll(buffer, at: offset, what()) } else { try writeAll(buffer, what()) }
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
  }

  /// Reads into `bytes[range]`: the bytes read, 0 at end of file.
  public func read(into bytes: inout [UInt8], range: Range<Int>, _ what: @autoclosure () -> String = "read")
    throws(SondeError) -> Int
  {
    var result: Result<Int, SondeError> = .success(0)
    bytes.withUnsafeMutableBytes { buffer in
      do throws(SondeError) {
        result = .success(try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[range]), what()))
      } catch {
        result = .failure(error)
      }
    }
    return try result.get()
  }

  /// pread(2) into `bytes[range]` at `offset`.
  public func read(into bytes: inout [UInt8], range: Range<Int>, at offset: Int64) throws(SondeError) -> Int {
    var result: Result<Int, SondeError> = .success(0)
    bytes.withUnsafeMutableBytes { buffer in
      do throws(SondeError) {
        result = .success(try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[range]), at: offset))
      } catch {
        result = .failure(error)
      }
    }
    return try result.get()
  }

  /// fstat(2).
  public func status() throws(SondeError) -> stat {
    var info = stat()
    _ = try Syscall.call("fstat(\(rawValue))") { fstat(rawValue, &info) }
    return info
  }

  /// ioctl(2) with an integer argument.
  @discardableResult
  public func ioctl(_ request: UInt, value: UInt, _ what: @autoclosure () -> String) throws(SondeError) -> Int32 {
    try Syscall.call(what()) { sonde_ioctl_value(rawValue, request, value) }
  }

  /// ioctl(2) with a pointer argument.
  @discardableResult
  public func ioctl(_ request: UInt, pointer: UnsafeMutableRawPointer?, _ what: @autoclosure () -> String)
    throws(SondeError) -> Int32
  {
    try Syscall.call(what()) { sonde_ioctl_pointer(rawValue, request, pointer) }
  }

  /// fsync(2); EINVAL (a pipe, a device) is not an error.
  public func sync(_ what: @autoclosure () -> String = "fsync") throws(SondeError) {
    let (rc, code) = Syscall.retrying { fsync(rawValue) }
    if rc != 0 && code != EINVAL { throw SondeError.system(what(), errno: code) }
  }

  /// Maps `length` bytes at `offset` of this file.
  public func map(length: Int, protection: Int32, flags: Int32, offset: Int64 = 0) throws(SondeError)
    -> UnsafeMutableRawPointer
  {
    try Syscall.map(length: length, protection: protection, flags: flags, fd: rawValue, offset: offset)
  }
}
