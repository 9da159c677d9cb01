import CSonde
import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The per-CPU sampling events of a profile: cpu-clock at the options' frequency on every online CPU,
/// counting every task, or only a cgroup's (the kernel filters with --cgroup). Public so the overhead
/// benchmark's floor samples with exactly the profiler's events.
public enum SamplingEvents {
  /// The cpu-clock attributes at `options.frequency` (user space only with --user-only).
  public static func cpuClock(_ options: ProfilerOptions) -> perf_event_attr {
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue)
    attr.freq = 1
    attr.sample_freq = options.frequency
    if options.stacks == .userOnly { attr.exclude_kernel = 1 }
    return attr
  }

  /// Opens `attr` once per online CPU, on the options' cgroup when there is one.
  public static func open(_ attr: perf_event_attr, _ options: ProfilerOptions) throws(SondeError) -> [PerfEventFD] {
    var cgroup: FileDescriptor?
    if case .cgroup(let path) = options.target { cgroup = try openCgroup(path) }
    defer { cgroup?.close() }
    var events: [PerfEventFD] = []
    for cpu in CPUList.online() {
      let target = cgroup.map { EventTarget.cgroup($0.rawValue, cpu: cpu) } ?? .cpu(cpu)
      events.append(try PerfEventFD.open(attr, target: target, label: "cpu-clock"))
    }
    return events
  }

  /// The cgroup directory given as a path: absolute, or relative to the hierarchy perf_event is bound to
  /// (the cgroup2 mount, or a cgroup v1 mount with the perf_event controller).
  static func openCgroup(_ path: String) throws(SondeError) -> FileDescriptor {
    let operation = "profile --cgroup \(path)"
    var full = path
    if !path.hasPrefix("/") {
      guard let root = perfEventHierarchy() else {
        throw SondeError(
          .notSupported, operation: operation, reason: "no cgroup2 mount and no cgroup v1 mount with perf_event",
          remedy: "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup) or give an absolute path")
      }
      full = root + "/" + path
    }
    let fd = Glibc.open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      throw SondeError(
        code == ENOENT ? .invalidInput : .system, operation: operation, errno: code,
        reason: code == ENOENT ? "no cgroup directory \(full)" : errnoDescription(code),
        remedy: "give a cgroup directory, e.g. system.slice/ssh.service")
    }
    return FileDescriptor(owning: fd)
  }

  /// Where the cgroup hierarchy that perf_event counts in is mounted, from /proc/self/mounts.
  static func perfEventHierarchy() -> String? {
    let mounts = (readSmallFile("/proc/self/mounts") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
    if let v2 = mounts.first(where: { $0.count > 2 && $0[2] == "cgroup2" }) { return String(v2[1]) }
    let v1 = mounts.first { $0.count > 3 && $0[2] == "cgroup" && $0[3].split(separator: ",").contains("perf_event") }
    return v1.map { String($0[1]) }
  }
}
