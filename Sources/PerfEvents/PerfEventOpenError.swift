import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Turns a failed perf_event_open into an error that says why and what to do, the way perf's
/// `evsel__open_strerror` does: paranoid level and capabilities for EACCES/EPERM, the missing
/// hardware PMU for ENOENT/EOPNOTSUPP on hardware events, the missing process for ESRCH.
public enum PerfEventOpenError {
  /// Path of the paranoid sysctl.
  public static let paranoidPath = "/proc/sys/kernel/perf_event_paranoid"

  /// The current `perf_event_paranoid` level, if readable.
  public static func paranoidLevel() -> Int? {
    guard let text = readSmallFile(paranoidPath) else { return nil }
    return Int(text.trimmingWhitespace())
  }

  static func explain(errno code: Int32, attr: perf_event_attr, target: EventTarget, label: String)
    -> SondeError
  {
    let operation = "perf_event_open(\(label), \(target))"
    let isHardware =
      attr.type == PERF_TYPE_HARDWARE.rawValue || attr.type == PERF_TYPE_HW_CACHE.rawValue
      || attr.type == PERF_TYPE_RAW.rawValue
    switch code {
    case EACCES, EPERM:
      return permissionError(operation: operation, errno: code, attr: attr, target: target)
    case ENOENT, EOPNOTSUPP, ENODEV:
      if isHardware && !HardwarePMU.isPresent {
        return SondeError.unsupported(
          operation, facility: .hardwarePMU, cause: .missingHardware, errno: code,
          reason:
            "this machine has no hardware PMU (no 'cpu' device in /sys/bus/event_source/devices), so hardware events like '\(label)' cannot be counted",
          remedy: "use software events such as task-clock, cpu-clock, page-faults or context-switches")
      }
      if code == EOPNOTSUPP && attr.sample_period != 0 {
        return SondeError.unsupported(
          operation, facility: .perfEvent, cause: .unknown, errno: code,
          reason: "the PMU behind '\(label)' does not support sampling",
          remedy: "count it with 'sonde stat', or sample a software event like cpu-clock")
      }
      return SondeError.unsupported(
        operation, facility: .perfEvent, cause: .unknown, errno: code,
        reason: "the kernel does not support the event '\(label)'")
    case ESRCH:
      return SondeError(
        .noSuchProcess, operation: operation, errno: code,
        reason: "no such process or thread \(target.pid)")
    case EMFILE:
      return SondeError(
        .system, operation: operation, errno: code,
        reason: "too many open files: one descriptor is needed per event per CPU or thread",
        remedy: "raise the limit with 'ulimit -n', or count fewer events/CPUs")
    case EBUSY:
      return SondeError(
        .system, operation: operation, errno: code,
        reason: "the PMU is in exclusive use by another event")
    case EINVAL:
      var reason = "the kernel rejected the attributes of '\(label)'"
      if attr.precise_ip != 0 { reason += " (precise_ip=\(attr.precise_ip) may exceed what the PMU supports)" }
      if attr.freq != 0, let maxRate = readSmallFile("/proc/sys/kernel/perf_event_max_sample_rate") {
        reason += "; frequency must not exceed perf_event_max_sample_rate=\(maxRate.trimmingWhitespace())"
      }
      return SondeError(.invalidInput, operation: operation, errno: code, reason: reason)
    default:
      return SondeError(.system, operation: operation, errno: code, reason: errnoDescription(code))
    }
  }

  private static func permissionError(
    operation: String, errno code: Int32, attr: perf_event_attr, target: EventTarget
  ) -> SondeError {
    let level = paranoidLevel()
    let levelText = level.map { "perf_event_paranoid is \($0)" } ?? "perf_event_paranoid is unreadable"
    var reason: String
    if target.isSystemWide {
      reason =
        "system-wide and per-CPU events need CAP_PERFMON (or CAP_SYS_ADMIN) unless perf_event_paranoid ≤ 0; \(levelText)"
    } else if attr.exclude_kernel == 0 && (level ?? 2) >= 2 {
      reason =
        "counting kernel activity needs CAP_PERFMON (or CAP_SYS_ADMIN) when perf_event_paranoid ≥ 2; \(levelText)"
    } else if target.pid > 0 {
      reason = "monitoring another user's process needs CAP_PERFMON or ptrace access; \(levelText)"
    } else {
      reason = "access to performance monitoring is restricted; \(levelText)"
    }
    if level == 3 || level == 4 {
      reason += " (a distribution patch: level > 2 forbids all unprivileged use)"
    }
    return SondeError(
      .permissionDenied, operation: operation, errno: code, reason: reason,
      remedy:
        "run as root, grant the capability ('setcap cap_perfmon+ep sonde'), lower the level ('sysctl kernel.perf_event_paranoid=1'), or count user space only with the ':u' modifier"
    )
  }
}

/// The hardware (CPU) PMU: present when /sys/bus/event_source/devices/cpu (or cpu_core/cpu_atom) exists.
public enum HardwarePMU {
  public static var isPresent: Bool {
    for name in ["cpu", "cpu_core", "cpu_atom", "armv8_pmuv3"] {
      if access("/sys/bus/event_source/devices/\(name)", F_OK) == 0 { return true }
    }
    return false
  }
}
