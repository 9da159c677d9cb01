import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What the agent labels a process's samples with, read from /proc while the process runs: its executable,
/// its cgroup v2 path, the container id and the systemd unit that path names.
public struct ProcessLabels: Sendable, Hashable, Codable {
  public var pid: Int32
  public var comm: String
  /// The executable's path ("" for kernel threads and processes gone before they were read).
  public var exe: String = ""
  /// The cgroup v2 path, as /proc/PID/cgroup's "0::" line gives it.
  public var cgroup: String = ""
  /// The container id (64 hex digits) a container runtime's cgroup name carries, else "".
  public var container: String = ""
  /// The innermost systemd unit (a .service or .scope) in the cgroup path, else "".
  public var unit: String = ""

  public init(
    pid: Int32, comm: String, exe: String = "", cgroup: String = "", container: String = "", unit: String = ""
  ) {
    self.pid = pid
    self.comm = comm
    self.exe = exe
    self.cgroup = cgroup
    self.container = container
    self.unit = unit
  }

  /// Reads `pid`'s labels; fields the process no longer has (it exited) stay empty.
  public static func read(pid: Int32, comm: String) -> ProcessLabels {
    var labels = ProcessLabels(pid: pid, comm: comm)
    labels.exe = readLink("/proc/\(pid)/exe") ?? ""
    if let text = readSmallFile("/proc/\(pid)/cgroup") {
      labels.cgroup = cgroupV2Path(text) ?? ""
    }
    labels.container = containerID(inCgroup: labels.cgroup) ?? ""
    labels.unit = systemdUnit(inCgroup: labels.cgroup) ?? ""
    return labels
  }

  /// The path of the unified hierarchy's "0::PATH" line of a /proc/PID/cgroup text.
  static func cgroupV2Path(_ text: String) -> String? {
    for line in text.split(separator: "\n") where line.hasPrefix("0::") {
      return String(line.dropFirst(3))
    }
    return nil
  }

  /// The container id in a cgroup path, as Docker, containerd, CRI-O and Podman name their cgroups:
  /// `docker-ID.scope`, `cri-containerd-ID.scope`, `crio-ID.scope`, `libpod-ID.scope` or a bare `/docker/ID`
  /// component, ID being 64 hex digits. The innermost one wins.
  static func containerID(inCgroup path: String) -> String? {
    for component in path.split(separator: "/").reversed() {
      var name = Substring(component)
      if name.hasSuffix(".scope") { name = name.dropLast(6) }
      if let dash = name.lastIndex(of: "-") { name = name[name.index(after: dash)...] }
      if name.count == 64 && name.allSatisfy(\.isHexDigit) { return String(name) }
    }
    return nil
  }

  /// The innermost `.service` or `.scope` component of a cgroup path (systemd's unit), nil when none.
  static func systemdUnit(inCgroup path: String) -> String? {
    for component in path.split(separator: "/").reversed()
    where component.hasSuffix(".service") || component.hasSuffix(".scope") {
      return String(component)
    }
    return nil
  }
}
