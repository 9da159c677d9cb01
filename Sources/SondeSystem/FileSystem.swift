#if canImport(Glibc)
  import Glibc
#endif

/// Reads a small text file (sysfs, procfs) completely, or nil if it cannot be opened.
///
/// Uses read(2) directly: procfs files report size 0, so stat-based readers see them as empty.
public func readSmallFile(_ path: String) -> String? {
  guard let bytes = readFileBytes(path) else { return nil }
  return String(decoding: bytes, as: UTF8.self)
}

/// Reads a whole regular file (procfs and sysfs files are regular) as bytes, or nil if it cannot be opened
/// or read, is not a regular file (a FIFO, a device: never blocks on one), or holds more than `limit` bytes.
/// `followingSymlinks: false` refuses a symlink (for files in a directory Sonde owns, where one would have been
/// planted).
public func readFileBytes(_ path: String, limit: Int = 1 << 30, followingSymlinks: Bool = true) -> [UInt8]? {
  guard let fd = openRegularFile(path, followingSymlinks: followingSymlinks) else { return nil }
  defer { close(fd) }
  var result: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 {
      if errno == EINTR { continue }
      return nil
    }
    if n == 0 { break }
    result.append(contentsOf: chunk[0..<n])
    if result.count > limit { return nil }
  }
  return result
}

/// A descriptor for reading `path` when it is a regular file, else nil (closed again): opened without
/// blocking, so a FIFO or a device where a file should be is refused rather than waited on.
private func openRegularFile(_ path: String, followingSymlinks: Bool) -> Int32? {
  let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (followingSymlinks ? 0 : O_NOFOLLOW))
  guard fd >= 0 else { return nil }
  var info = stat()
  guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
    close(fd)
    return nil
  }
  return fd
}

/// A file type in words, for errors (`FIFO`, `character device`, …).
public func fileTypeName(_ mode: mode_t) -> String {
  switch mode & S_IFMT {
  case S_IFREG: "regular file"
  case S_IFDIR: "directory"
  case S_IFIFO: "FIFO"
  case S_IFCHR: "character device"
  case S_IFBLK: "block device"
  case S_IFSOCK: "socket"
  case S_IFLNK: "symbolic link"
  default: "unknown file type"
  }
}

/// Names of the entries of a directory (without . and ..), or [] if it cannot be read.
public func listDirectory(_ path: String) -> [String] {
  guard let dir = opendir(path) else { return [] }
  defer { closedir(dir) }
  var names: [String] = []
  while let entry = readdir(dir) {
    let name = withUnsafePointer(to: entry.pointee.d_name) {
      $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
    }
    if name != "." && name != ".." { names.append(name) }
  }
  return names.sorted()
}

/// Hands `body` a regular file's contents in pieces of at most 256 KiB that end at line ends (the last may
/// not), so a large procfs table (kallsyms) is parsed without holding its text at once. False when the file
/// cannot be opened or read, or is not a regular file.
public func streamFileLines(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Bool {
  guard let fd = openRegularFile(path, followingSymlinks: true) else { return false }
  defer { close(fd) }
  let size = 256 << 10
  var buffer = [UInt8](repeating: 0, count: size)
  var filled = 0
  while true {
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, size - filled) }
    if n < 0 {
      if errno == EINTR { continue }
      return false
    }
    filled += n
    let end =
      n == 0 ? filled : (buffer[..<filled].lastIndex(of: 0x0A).map { $0 + 1 } ?? (filled == size ? filled : 0))
    if end > 0 {
      buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[..<end])) }
      buffer.withUnsafeMutableBytes { raw in
        if filled > end { raw.baseAddress!.copyMemory(from: raw.baseAddress! + end, byteCount: filled - end) }
      }
      filled -= end
    }
    if n == 0 { return true }
  }
}

/// Whether process `pid` exists (it may be a zombie); false only when the kernel says there is no such
/// process (a process of another user, which kill(2) refuses with EPERM, exists).
public func processExists(_ pid: Int32) -> Bool {
  kill(pid, 0) == 0 || errno != ESRCH
}

/// Writes `bytes` to `path` in a directory the caller owns, replacing it whole: into a new temporary file
/// beside it (created exclusively, never through a symlink), flushed, then renamed over `path`, so a reader
/// or a crash sees the old or the new contents, and a symlink planted at `path` is replaced, not followed.
public func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws(SondeError) {
  let temporary = path + ".tmp.\(getpid())"
  unlink(temporary)
  let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
  guard fd >= 0 else {
    let e = errno
    throw SondeError(.system, operation: "create \(temporary)", errno: e, reason: errnoDescription(e))
  }
  let file = FileDescriptor(owning: fd)
  let (_, error) = bytes.withUnsafeBytes { file.writeAll(segments: [$0], "write \(temporary)") }
  if error == nil { fsync(fd) }
  file.close()
  if let error {
    unlink(temporary)
    throw error
  }
  guard rename(temporary, path) == 0 else {
    let e = errno
    unlink(temporary)
    throw SondeError(.system, operation: "rename \(temporary) to \(path)", errno: e, reason: errnoDescription(e))
  }
}

/// Whether a path exists.
public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

extension StringProtocol {
  /// The string without leading and trailing spaces, tabs and newlines.
  public func trimmingWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
    guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
      return ""
    }
    return String(self[start...end])
  }
}

/// Threads of a process (`/proc/PID/task`), or a noSuchProcess error.
public func threads(ofProcess pid: Int32) throws(SondeError) -> [Int32] {
  let tids = listDirectory("/proc/\(pid)/task").compactMap { Int32($0) }
  if tids.isEmpty {
    throw SondeError(.noSuchProcess, operation: "find threads of pid \(pid)", reason: "no such process \(pid)")
  }
  return tids
}

/// One `Name:\tvalue` field of `/proc/PID/status` (e.g. "Tgid", "CapEff", "VmHWM"), trimmed.
public func procStatusField(_ name: String, pid: Int32? = nil) -> String? {
  guard let status = readSmallFile("/proc/\(pid.map(String.init) ?? "self")/status") else { return nil }
  let prefix = name + ":"
  for line in status.split(separator: "\n") where line.hasPrefix(prefix) {
    return line.dropFirst(prefix.count).trimmingWhitespace()
  }
  return nil
}

/// CPU time a process has used since it started, all threads, user and system (`/proc/PID/stat`'s utime
/// and stime, in clock ticks), or nil when it is gone.
public func processCPUTicks(pid: Int32) -> UInt64? {
  // The fields after the comm, which may hold spaces and parentheses, start after its last ')'.
  guard let stat = readSmallFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
  let fields = stat[stat.index(after: close)...].split(separator: " ")
  // fields[0] is the state (field 3): utime and stime are fields 14 and 15.
  guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
  return user.addingReportingOverflow(system).overflow ? UInt64.max : user + system
}

/// The first `count` bytes of a regular file (fewer when it is shorter), or nil when it cannot be read.
public func readFilePrefix(_ path: String, count: Int) -> [UInt8]? {
  let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var info = stat()
  guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
  var bytes = [UInt8](repeating: 0, count: max(0, count))
  let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
  guard n >= 0 else { return nil }
  return Array(bytes.prefix(n))
}

/// Calls `body` with a NULL-terminated C array of the strings (an argv or envp for exec and spawn).
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  let pointers = strings.map { strdup($0) } + [nil]
  defer { for p in pointers { free(p) } }
  return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// The target of the symbolic link at `path` (a /proc fd or exe link), or nil when it is not one.
public func readLink(_ path: String) -> String? {
  var buffer = [CChar](repeating: 0, count: 4096)
  let n = readlink(path, &buffer, buffer.count - 1)
  guard n > 0 else { return nil }
  return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
