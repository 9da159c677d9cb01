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
  /// For `.notSupported`: which facility is missing and why, for callers to branch on (never parse `reason`).
  public var unsupported: Unsupported?
  /// The whole log that came with the failure (a BPF verifier's), when `reason` shows only its end.
  public var log: [String]?

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

  /// A facility this kernel or machine lacks: `.notSupported`, with the facility and the cause.
  public static func unsupported(
    _ operation: String, facility: Unsupported.Facility, cause: Unsupported.Cause, errno: Int32? = nil,
    reason: String, remedy: String? = nil
  ) -> SondeError {
    var error = SondeError(.notSupported, operation: operation, errno: errno, reason: reason, remedy: remedy)
    error.unsupported = Unsupported(facility: facility, cause: cause)
    return error
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

/// What a `.notSupported` error is about: the facility, and why this kernel or machine lacks it.
public struct Unsupported: Sendable, Equatable {
  /// A kernel or hardware facility, named as users know it. New ones are added as constants.
  public struct Facility: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let kprobe = Facility(rawValue: "kprobe")
    public static let kprobeMulti = Facility(rawValue: "kprobe-multi")
    public static let uprobeMulti = Facility(rawValue: "uprobe-multi")
    /// BPF trampolines: fentry, fexit, fmod_ret.
    public static let fentry = Facility(rawValue: "fentry/fexit")
    public static let ftraceFunctionTracer = Facility(rawValue: "ftrace function tracer")
    public static let bpfSyscall = Facility(rawValue: "bpf() system call")
    public static let bpfFeature = Facility(rawValue: "BPF feature")
    /// A 64-bit value kept with a BPF link, read by `bpf_get_attach_cookie()`.
    public static let bpfCookie = Facility(rawValue: "BPF cookie")
    public static let mapBatchOperations = Facility(rawValue: "BPF map batch operations")
    public static let hardwarePMU = Facility(rawValue: "hardware PMU")
    public static let perfEvent = Facility(rawValue: "perf event")
    public static let tracefs = Facility(rawValue: "tracefs")
    /// What the in-kernel CFI unwinder needs: bpf_loop and bpf_task_pt_regs.
    public static let bpfUnwinder = Facility(rawValue: "in-kernel CFI unwinding (bpf_loop, bpf_task_pt_regs)")
  }

  /// Why the facility is missing.
  public enum Cause: Sendable, Equatable {
    /// The kernel was built without this option (e.g. `CONFIG_KPROBES`).
    case missingConfig(String)
    /// The kernel predates the facility (the first version that has it).
    case minimumKernel(String)
    /// The kernel has it but refuses it: lockdown, a VM or security-module policy, a disabled sysctl.
    case deniedByPolicy
    /// The machine has no hardware for it (a VM without a PMU).
    case missingHardware
    /// Not mounted or not set up (e.g. tracefs).
    case notConfigured
    /// The kernel said so without saying why.
    case unknown
  }

  public var facility: Facility
  public var cause: Cause

  public init(facility: Facility, cause: Cause) {
    self.facility = facility
    self.cause = cause
  }
}
