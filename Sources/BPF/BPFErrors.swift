import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Turns failed bpf(2)/libbpf calls into `SondeError`s that say why and what to do.
///
/// Permission failures name the capability that is missing (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) or the
/// `unprivileged_bpf_disabled` sysctl; facilities this kernel lacks become `.notSupported` errors carrying
/// the facility and the cause (`SondeError.unsupported`), which callers branch on; their reason reads
/// "unsupported on this kernel: …" for people.
public enum BPFErrors {
  /// The prefix of every "the kernel lacks this facility" reason.
  public static let unsupportedPrefix = "unsupported on this kernel: "

  /// Linux capability numbers (uapi linux/capability.h).
  enum Capability: Int, CaseIterable {
    case sysAdmin = 21
    case perfmon = 38
    case bpf = 39

    var name: String {
      switch self {
      case .sysAdmin: "CAP_SYS_ADMIN"
      case .perfmon: "CAP_PERFMON"
      case .bpf: "CAP_BPF"
      }
    }
  }

  /// The effective capability set of this process, from /proc/self/status.
  static func effectiveCapabilities() -> UInt64? {
    guard let status = readSmallFile("/proc/self/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
      return UInt64(line.dropFirst("CapEff:".count).trimmingWhitespace(), radix: 16)
    }
    return nil
  }

  static func has(_ capability: Capability) -> Bool {
    guard let caps = effectiveCapabilities() else { return false }
    return caps & (1 << UInt64(capability.rawValue)) != 0
  }

  /// An error for a facility the running kernel does not provide.
  public static func unsupported(
    _ operation: String, facility: Unsupported.Facility, cause: Unsupported.Cause, errno code: Int32? = nil,
    reason: String, remedy: String? = nil
  ) -> SondeError {
    SondeError.unsupported(
      operation, facility: facility, cause: cause, errno: code, reason: unsupportedPrefix + reason, remedy: remedy)
  }

  /// Explains a failed bpf operation by its errno.
  public static func explain(_ operation: String, errno code: Int32) -> SondeError {
    switch code {
    case EPERM, EACCES:
      return permission(operation, errno: code)
    case ENOSYS:
      return unsupported(
        operation, facility: .bpfSyscall, cause: .missingConfig("CONFIG_BPF_SYSCALL"), errno: code,
        reason: "the kernel was built without the bpf() system call")
    case E2BIG, EOPNOTSUPP, ENOTSUPP:
      return unsupported(
        operation, facility: .bpfFeature, cause: .unknown, errno: code,
        reason: "the kernel does not support this BPF feature")
    default:
      return SondeError(.system, operation: operation, errno: code, reason: errnoDescription(code))
    }
  }

  /// ENOTSUPP (524): the kernel-internal "not supported" that leaks out of some BPF paths.
  public static let ENOTSUPP: Int32 = 524

  /// EPERM/EACCES: which capability is missing, or whether unprivileged BPF is disabled.
  static func permission(
    _ operation: String, errno code: Int32, capabilities: UInt64? = effectiveCapabilities(),
    unprivilegedDisabled: String? = readSmallFile("/proc/sys/kernel/unprivileged_bpf_disabled")?.trimmingWhitespace()
  ) -> SondeError {
    let held = Capability.allCases.filter { (capabilities ?? 0) & (1 << UInt64($0.rawValue)) != 0 }.map(\.name)
    let missing = Capability.allCases.map(\.name).filter { !held.contains($0) }
    let sysctl = unprivilegedDisabled
    var reason: String
    if missing.contains("CAP_BPF") && missing.contains("CAP_SYS_ADMIN") {
      reason = "loading BPF programs and creating maps needs CAP_BPF (or CAP_SYS_ADMIN)"
      if let sysctl, sysctl != "0" {
        reason += "; unprivileged BPF is disabled (kernel.unprivileged_bpf_disabled=\(sysctl))"
      }
      if missing.contains("CAP_PERFMON") {
        reason += "; tracing programs (kprobe, tracepoint, perf_event) also need CAP_PERFMON"
      }
    } else if missing.contains("CAP_PERFMON") && missing.contains("CAP_SYS_ADMIN") {
      reason = "tracing programs and perf event attachment need CAP_PERFMON (or CAP_SYS_ADMIN)"
    } else {
      reason =
        "the kernel refused although this process has \(held.joined(separator: ", ")); a security module, lockdown or a VM policy blocks it"
    }
    return SondeError(
      .permissionDenied, operation: operation, errno: code, reason: reason,
      remedy: "run as root, or grant the capabilities: setcap cap_bpf,cap_perfmon+ep sonde")
  }
}
