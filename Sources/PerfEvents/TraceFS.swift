import SondeSystem
#if canImport(Glibc)
  import Glibc
#endif

/// The kernel's tracing filesystem: where tracepoints are listed with their ids and formats.
public enum TraceFS {
  /// The mounted tracefs root (`/sys/kernel/tracing`, or the old debugfs location), if any.
  public static var root: String? {
    for candidate in candidates where fileExists("\(candidate)/events") {
      return candidate
    }
    return nil
  }

  static let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

  /// The error when tracefs cannot be used: mounted but closed to this user (tracefs is mode 0700 by
  /// default, so only root reads it), or not mounted at all.
  public static func notMounted(_ operation: String) -> SondeError {
    let mounts = readSmallFile("/proc/mounts") ?? ""
    for candidate in candidates {
      let mounted = mounts.split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 2 && fields[1] == candidate && (fields[2] == "tracefs" || fields[2] == "debugfs")
      }
      var st = stat()
      let denied = stat("\(candidate)/events", &st) != 0 && (errno == EACCES || errno == EPERM)
      if mounted || denied {
        return SondeError(
          .permissionDenied, operation: operation, errno: EACCES,
          reason: "tracefs is mounted at \(candidate) but this user may not read it (it is root-only by default)",
          remedy: "run as root, or remount it for a group: mount -o remount,mode=750,gid=GROUP \(candidate)")
      }
    }
    return SondeError.unsupported(
      operation, facility: .tracefs, cause: .notConfigured, reason: "tracefs is not mounted",
      remedy: "mount it: mount -t tracefs nodev /sys/kernel/tracing")
  }

  /// Tracepoint subsystems (`sched`, `syscalls`, …).
  public static func subsystems() -> [String] {
    guard let root else { return [] }
    return listDirectory("\(root)/events").filter { fileExists("\(root)/events/\($0)/enable") }
  }

  /// Tracepoints of one subsystem.
  public static func events(in subsystem: String) -> [String] {
    guard let root else { return [] }
    return listDirectory("\(root)/events/\(subsystem)").filter { fileExists("\(root)/events/\(subsystem)/\($0)/id") }
  }

  /// Every tracepoint as `subsystem:event`, optionally filtered by a glob on that name.
  public static func tracepoints(matching glob: String? = nil) -> [String] {
    subsystems().flatMap { system in events(in: system).map { "\(system):\($0)" } }
      .filter { glob == nil || globMatches(glob!, $0) }
  }

  /// The tracepoint's id (for `perf_event_attr.config`).
  public static func tracepointID(subsystem: String, event: String) throws(SondeError) -> UInt64 {
    let operation = "resolve tracepoint '\(subsystem):\(event)'"
    guard let root else { throw notMounted(operation) }
    let path = "\(root)/events/\(subsystem)/\(event)/id"
    guard let text = readSmallFile(path) else {
      let candidates =
        fileExists("\(root)/events/\(subsystem)") ? events(in: subsystem).map { "\(subsystem):\($0)" } : subsystems()
      let suggestions = closeMatches(
        to: fileExists("\(root)/events/\(subsystem)") ? "\(subsystem):\(event)" : subsystem, in: candidates)
      throw SondeError(
        .invalidInput, operation: operation, reason: "no such tracepoint",
        remedy: suggestions.isEmpty
          ? "list tracepoints with 'sonde list tracepoint'" : "did you mean \(suggestions.joined(separator: ", "))?")
    }
    guard let id = UInt64(text.trimmingWhitespace()) else {
      throw SondeError(.corruptData, operation: operation, reason: "unreadable id in \(path)")
    }
    return id
  }
}
