#if canImport(Glibc)
  import Glibc
#endif

/// An error from the kernel or from the user's input, carrying what went wrong, why, and what to do.
///
/// Every syscall Sonde makes turns a failure into one of these: the `kind` lets callers branch on
/// meaning (like cilium/ebpf's sentinel errors), `reason` explains it and `remedy` says how to fix it.
public struct SondeError: Error, CustomStringConvertible, Sendable, Equatable {
  /// What category of failure this is.
  public enum Kind: String, Sendable, Equatable {
    /// The user's input (event name, pid, option) is wrong.
    case invalidInput
    /// The kernel or the machine does not provide the facility.
    case notSupported
    /// Missing privilege: capability, paranoid level, or file permissions.
    case permissionDenied
    /// The target process or thread does not exist.
    case noSuchProcess
    /// A file is malformed (perf.data, ELF, …).
    case corruptData
    /// Any other system failure.
    case system
  }

  public var kind: Kind
  /// The operation that failed, e.g. `perf_event_open(cycles)`.
  public var operation: String
  /// The errno, when the failure came from the kernel.
  public var errno: Int32?
  /// Why it failed, in words.
  public var reason: String
  /// What the user can do about it, when there is something to do.
  public var remedy: String?

  public init(
    _ kind: Kind, operation: String, errno: Int32? = nil, reason: String, remedy: String? = nil
  ) {
    self.kind = kind
    self.operation = operation
    self.errno = errno
    self.reason = reason
    self.remedy = remedy
  }

  public var description: String {
    var text = "\(operation): \(reason)"
    if let errno { text += " (\(errnoName(errno)))" }
    if let remedy { text += "\n  hint: \(remedy)" }
    return text
  }

  /// A plain system-call failure with no special interpretation.
  public static func system(_ operation: String, errno: Int32 = Glibc.errno) -> SondeError {
    SondeError(.system, operation: operation, errno: errno, reason: errnoDescription(errno))
  }

  /// Invalid user input.
  public static func invalid(_ operation: String, _ reason: String, remedy: String? = nil) -> SondeError {
    SondeError(.invalidInput, operation: operation, reason: reason, remedy: remedy)
  }
}

/// `strerror` as a Swift string.
public func errnoDescription(_ code: Int32) -> String {
  String(cString: strerror(code))
}

/// The symbolic name of common errno values (`EACCES`), or the number.
public func errnoName(_ code: Int32) -> String {
  switch code {
  case EPERM: "EPERM"
  case ENOENT: "ENOENT"
  case ESRCH: "ESRCH"
  case EINTR: "EINTR"
  case EIO: "EIO"
  case E2BIG: "E2BIG"
  case EBADF: "EBADF"
  case EAGAIN: "EAGAIN"
  case ENOMEM: "ENOMEM"
  case EACCES: "EACCES"
  case EFAULT: "EFAULT"
  case EBUSY: "EBUSY"
  case EEXIST: "EEXIST"
  case ENODEV: "ENODEV"
  case EINVAL: "EINVAL"
  case EMFILE: "EMFILE"
  case ENOSPC: "ENOSPC"
  case ENOSYS: "ENOSYS"
  case EOPNOTSUPP: "EOPNOTSUPP"
  default: "errno \(code)"
  }
}
