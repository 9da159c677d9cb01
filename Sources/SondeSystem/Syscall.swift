import CSonde

#if canImport(Glibc)
  import Glibc
#endif

/// The one funnel every system call goes through (swift-system's `valueOrErrno`, SwiftNIO's
/// `syscall(blocking:)`): errno is read the instant the call fails, before any string interpolation or
/// allocation can change it; EINTR is retried; a failure becomes a `SondeError` naming the operation,
/// whose text is only built once the errno is safe.
public enum Syscall {
  /// Runs `body` until it does not fail with EINTR: its result, and the errno when it returned -1 (else 0).
  @inline(__always)
  public static func retrying<T: FixedWidthInteger>(_ body: () -> T) -> (result: T, errno: Int32) {
    while true {
      let result = body()
      if result != -1 { return (result, 0) }
      let code = errno
      if code != EINTR { return (result, code) }
    }
  }

  /// Runs `body` (retrying EINTR) and throws a `SondeError` for `operation` when it returns -1.
  @inline(__always)
  public static func call<T: FixedWidthInteger>(_ operation: @autoclosure () -> String, _ body: () -> T)
    throws(SondeError) -> T
  {
    let (result, code) = retrying(body)
    if result == -1 { throw SondeError.system(operation(), errno: code) }
    return result
  }

  /// mmap(2) of `fd` (-1 for anonymous memory).
  public static func map(length: Int, protection: Int32, flags: Int32, fd: Int32, offset: Int64 = 0)
    throws(SondeError) -> UnsafeMutableRawPointer
  {
    guard let p = mmap(nil, length, protection, flags, fd, off_t(offset)), p != MAP_FAILED else {
      let code = errno
      throw SondeError.system("mmap(\(length) bytes of fd \(fd))", errno: code)
    }
    return p
  }

  /// munmap(2); a failure here means a bug in the caller's bookkeeping, so it is ignored rather than thrown.
  public static func unmap(_ pointer: UnsafeMutableRawPointer?, length: Int) {
    if let pointer { _ = munmap(pointer, length) }
  }

  /// madvise(MADV_DONTNEED) over whole pages of a read-only file mapping: drops them from this process's
  /// memory (they are read back from the file if touched again). Advisory, so a failure is ignored.
  public static func dropPages(_ pointer: UnsafeRawPointer, length: Int) {
    _ = madvise(UnsafeMutableRawPointer(mutating: pointer), length, MADV_DONTNEED)
  }

  /// perf_event_open(2): the descriptor, or -1 with the errno (callers explain it: the paranoid level, the
  /// capability, the PMU). Not retried: EINTR does not happen here.
  public static func perfEventOpen(
    _ attr: inout perf_event_attr, pid: Int32, cpu: Int32, group: Int32, flags: UInt
  ) -> (fd: Int32, errno: Int32) {
    let fd = sonde_perf_event_open(&attr, pid, cpu, group, flags)
    return (fd, fd < 0 ? errno : 0)
  }

  /// bpf(2) for commands libbpf has no API for: the result, or -1 with the errno.
  public static func bpf(_ command: Int32, _ attr: UnsafeMutableRawPointer?, size: UInt32) -> (
    result: Int, errno: Int32
  ) {
    let rc = Int(sonde_bpf_syscall(command, attr, size))
    return (rc, rc < 0 ? errno : 0)
  }

  /// pidfd_open(2): a descriptor that becomes readable when the process exits, or nil (kernels before 5.3).
  public static func pidfd(_ pid: Int32) -> FileDescriptor? {
    let (fd, _) = retrying { sonde_pidfd_open(pid) }
    return fd >= 0 ? FileDescriptor(owning: fd) : nil
  }

}
