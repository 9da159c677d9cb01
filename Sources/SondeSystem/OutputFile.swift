#if canImport(Glibc)
  import Glibc
#endif

/// An output path opened the way perf opens `-o`: a device, a FIFO or a symlink is written *through*
/// (never renamed, replaced or chmod'ed: Sonde runs as root and must not break `/dev/null` for everyone),
/// and only a regular, non-empty file Sonde is about to overwrite is first kept as `PATH.old`.
public final class OutputFile {
  /// The descriptor: owned (closed by `close()` or with this object), or borrowed for `-` (standard output).
  public let descriptor: FileDescriptor
  /// The descriptor number (-1 once closed).
  public var fd: Int32 { descriptor.rawValue }
  /// The path as given.
  public let path: String
  /// True when the target cannot seek (FIFO, character device, socket, `-`): write a stream (pipe format).
  public let isStream: Bool

  /// Opens `path` for writing. `"-"` is standard output. `rotate` keeps a regular non-empty file as `PATH.old`.
  /// A file it creates gets `mode` (perf.data is 0600 as perf makes it; reports and flame graphs 0644).
  public init(path: String, rotate: Bool, mode: mode_t = 0o600) throws(SondeError) {
    self.path = path
    if path == "-" {
      descriptor = FileDescriptor(borrowing: 1)
      isStream = true
      return
    }
    guard !path.isEmpty else { throw SondeError.invalid("open output", "the output path is empty") }
    var link = stat()
    let exists = lstat(path, &link) == 0
    let lstatErrno = errno
    if !exists && lstatErrno != ENOENT {
      throw SondeError(
        lstatErrno == EACCES ? .permissionDenied : .system, operation: "stat(\(path))", errno: lstatErrno,
        reason: errnoDescription(lstatErrno), remedy: "choose another path with -o")
    }
    var target = link
    if exists && (link.st_mode & S_IFMT) == S_IFLNK {
      // Written through: the link's target is what gets the bytes. A dangling link is refused rather than
      // followed into creating a file wherever it points.
      guard stat(path, &target) == 0 else {
        throw SondeError.invalid(
          "open(\(path))", "is a symbolic link to a path that does not exist",
          remedy: "create the target first or choose another path with -o")
      }
    }
    let type = target.st_mode & S_IFMT
    if exists {
      switch type {
      case S_IFDIR:
        throw SondeError.invalid("open(\(path))", "is a directory", remedy: "give a file name with -o")
      case S_IFBLK:
        throw SondeError.invalid(
          "open(\(path))", "is a block device; Sonde does not write recordings onto block devices",
          remedy: "give a file name with -o")
      case S_IFSOCK:
        throw SondeError.invalid("open(\(path))", "is a socket", remedy: "give a file name or a FIFO with -o")
      default: break
      }
    }
    let isRegularFile = !exists || type == S_IFREG
    if rotate && exists && (link.st_mode & S_IFMT) == S_IFREG && link.st_size > 0 {
      Self.keepOld(path)
    }
    // O_TRUNC only for regular files (a FIFO or device ignores it, but say what is meant); O_CREAT only makes
    // a file where nothing exists.
    let flags = O_WRONLY | O_CLOEXEC | (isRegularFile ? O_CREAT | O_TRUNC : 0)
    let opened = Glibc.open(path, flags, mode)
    guard opened >= 0 else {
      let code = errno
      throw SondeError(
        code == EACCES || code == EPERM ? .permissionDenied : .system, operation: "open(\(path))", errno: code,
        reason: "cannot open the output file: \(errnoDescription(code))", remedy: "choose a writable path with -o")
    }
    descriptor = FileDescriptor(owning: opened)
    isStream = ((try? descriptor.status())?.st_mode ?? S_IFIFO) & S_IFMT != S_IFREG
  }

  /// Wraps a descriptor the caller keeps owning (it is not closed here), written as a stream.
  public init(borrowing descriptor: Int32, path: String) {
    self.path = path
    self.descriptor = FileDescriptor(borrowing: descriptor)
    isStream = true
  }

  /// Renames a regular file to `PATH.old` as perf does, unless `PATH.old` is something other than a regular
  /// file (rename would replace it).
  private static func keepOld(_ path: String) {
    let old = path + ".old"
    var st = stat()
    if lstat(old, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG { return }
    _ = rename(path, old)
  }

  /// Closes the descriptor now (standard output is left open).
  public func close() { descriptor.close() }
}
