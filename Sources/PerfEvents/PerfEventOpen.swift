import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Where a perf event counts: which task(s) on which CPU(s), in perf_event_open's terms.
public struct EventTarget: Sendable, Hashable, CustomStringConvertible {
  /// Thread/process id, or -1 for every task (system-wide on `cpu`).
  public var pid: Int32
  /// CPU number, or -1 for any CPU the task runs on.
  public var cpu: Int32

  /// `pid` is a cgroup v2 directory's fd (PERF_FLAG_PID_CGROUP): the event counts that cgroup's tasks.
  public var isCgroup = false

  public init(pid: Int32, cpu: Int32) {
    self.pid = pid
    self.cpu = cpu
  }

  /// A thread (and, with `inherit`, its future children) on any CPU.
  public static func thread(_ tid: Int32) -> EventTarget { EventTarget(pid: tid, cpu: -1) }
  /// Every task on one CPU (system-wide counting needs one fd per CPU).
  public static func cpu(_ cpu: Int32) -> EventTarget { EventTarget(pid: -1, cpu: cpu) }
  /// The tasks of a cgroup (given by an open fd of its cgroup v2 directory) on one CPU.
  public static func cgroup(_ directory: Int32, cpu: Int32) -> EventTarget {
    var target = EventTarget(pid: directory, cpu: cpu)
    target.isCgroup = true
    return target
  }
  /// The calling thread.
  public static var currentThread: EventTarget { EventTarget(pid: 0, cpu: -1) }

  public var isSystemWide: Bool { pid == -1 }

  public var description: String {
    if isCgroup { return "cgroup on cpu \(cpu)" }
    return switch (pid, cpu) {
    case (-1, let c): "cpu \(c)"
    case (let p, -1): p == 0 ? "this thread" : "tid \(p)"
    case (let p, let c): "tid \(p) on cpu \(c)"
    }
  }
}

/// An open perf event file descriptor. Owns it (a `FileDescriptor`) and closes it on `close()` or deinit.
public final class PerfEventFD: @unchecked Sendable {
  /// The owned descriptor: mmap, ioctl and BPF attachment go through it.
  public let descriptor: FileDescriptor
  /// The raw descriptor number, for logs and for APIs that take one. Valid until `close()`.
  public var rawValue: Int32 { descriptor.rawValue }
  /// The attributes the kernel accepted (after any size fallback).
  public let attributes: perf_event_attr
  public let target: EventTarget
  /// A label for error messages.
  public let label: String
  /// True when the kernel refused kernel-mode counting for this user and the event counts user space
  /// only (perf's fallback to `:u` under `perf_event_paranoid` ≥ 2); callers should say so.
  public let fellBackToUserSpace: Bool

  init(rawValue: Int32, attributes: perf_event_attr, target: EventTarget, label: String, fellBack: Bool = false) {
    descriptor = FileDescriptor(owning: rawValue)
    self.attributes = attributes
    self.target = target
    self.label = label
    fellBackToUserSpace = fellBack
  }

  /// Closes the descriptor. Safe to call twice.
  public func close() { descriptor.close() }

  /// Opens one perf event. Retries with the kernel's own attr size on E2BIG (as perf does) and turns
  /// every failure into a `SondeError` that names the reason and the remedy.
  public static func open(
    _ attributes: perf_event_attr, target: EventTarget, group: PerfEventFD? = nil,
    label: String
  ) throws(SondeError) -> PerfEventFD {
    var attr = attributes
    if attr.size == 0 { attr.size = SONDE_PERF_ATTR_SIZE }
    let flags = UInt(PERF_FLAG_FD_CLOEXEC) | (target.isCgroup ? UInt(PERF_FLAG_PID_CGROUP) : 0)
    let groupFD = group?.rawValue ?? -1
    var (fd, code) = Syscall.perfEventOpen(&attr, pid: target.pid, cpu: target.cpu, group: groupFD, flags: flags)
    if fd < 0 && code == E2BIG && attr.size != 0 && attr.size < SONDE_PERF_ATTR_SIZE {
      // The kernel wrote back the attr size it understands; retry with it. Bits beyond that size
      // must be zero, which they are when the caller did not ask for newer features.
      (fd, code) = Syscall.perfEventOpen(&attr, pid: target.pid, cpu: target.cpu, group: groupFD, flags: flags)
    }
    var fellBack = false
    if fd < 0 && (code == EACCES || code == EPERM) && attr.exclude_kernel == 0 && target.pid != -1 {
      // As perf does: when the paranoid level forbids counting the kernel for this user, count user space
      // only (`:u`) rather than fail, and let the caller say so.
      var userOnly = attr
      userOnly.exclude_kernel = 1
      userOnly.exclude_hv = 1
      let (retry, _) = Syscall.perfEventOpen(
        &userOnly, pid: target.pid, cpu: target.cpu, group: groupFD, flags: flags)
      if retry >= 0 {
        fd = retry
        attr = userOnly
        fellBack = true
      }
    }
    if fd < 0 {
      throw PerfEventOpenError.explain(errno: code, attr: attr, target: target, label: label)
    }
    return PerfEventFD(rawValue: fd, attributes: attr, target: target, label: label, fellBack: fellBack)
  }

  /// PERF_EVENT_IOC_ENABLE (with `group`, the whole group via PERF_IOC_FLAG_GROUP).
  public func enable(group: Bool = false) throws(SondeError) {
    try ioctl(SONDE_PERF_EVENT_IOC_ENABLE, group ? UInt(PERF_IOC_FLAG_GROUP.rawValue) : 0, "ENABLE")
  }

  /// PERF_EVENT_IOC_DISABLE.
  public func disable(group: Bool = false) throws(SondeError) {
    try ioctl(SONDE_PERF_EVENT_IOC_DISABLE, group ? UInt(PERF_IOC_FLAG_GROUP.rawValue) : 0, "DISABLE")
  }

  /// PERF_EVENT_IOC_RESET: zeroes the count (not the enabled/running times).
  public func reset(group: Bool = false) throws(SondeError) {
    try ioctl(SONDE_PERF_EVENT_IOC_RESET, group ? UInt(PERF_IOC_FLAG_GROUP.rawValue) : 0, "RESET")
  }

  /// PERF_EVENT_IOC_SET_OUTPUT: send this event's records to `other`'s ring buffer.
  public func setOutput(to other: PerfEventFD) throws(SondeError) {
    try ioctl(SONDE_PERF_EVENT_IOC_SET_OUTPUT, UInt(bitPattern: Int(other.rawValue)), "SET_OUTPUT")
  }

  /// PERF_EVENT_IOC_ID: the kernel's unique id for this event (matches PERF_SAMPLE_ID / FORMAT_ID).
  public func id() throws(SondeError) -> UInt64 {
    var value: UInt64 = 0
    try descriptor.ioctl(SONDE_PERF_EVENT_IOC_ID, pointer: &value, "ioctl(PERF_EVENT_IOC_ID, \(label))")
    return value
  }

  /// PERF_EVENT_IOC_PAUSE_OUTPUT: stop (or resume) writing records into the ring, e.g. while it is read in
  /// overwrite mode.
  public func pauseOutput(_ paused: Bool) throws(SondeError) {
    try descriptor.ioctl(
      SONDE_PERF_EVENT_IOC_PAUSE_OUTPUT, value: paused ? 1 : 0, "ioctl(PERF_EVENT_IOC_PAUSE_OUTPUT, \(label))")
  }

  /// PERF_EVENT_IOC_SET_FILTER: a tracepoint filter expression.
  public func setFilter(_ filter: String) throws(SondeError) {
    var bytes = Array(filter.utf8CString)
    do throws(SondeError) {
      _ = try bytes.withUnsafeMutableBufferPointer { (buffer) throws(SondeError) in
        try descriptor.ioctl(SONDE_PERF_EVENT_IOC_SET_FILTER, pointer: buffer.baseAddress, "set filter")
      }
    } catch {
      throw SondeError.invalid(
        "set filter on \(label)", "the kernel rejected the filter '\(filter)' (\(errnoName(error.errno ?? 0)))")
    }
  }

  /// Reads raw bytes (the read_format layout) from the descriptor.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SondeError) -> Int {
    try descriptor.read(into: buffer, "read(\(label))")
  }

  private func ioctl(_ request: UInt, _ value: UInt, _ name: String) throws(SondeError) {
    try descriptor.ioctl(request, value: value, "ioctl(PERF_EVENT_IOC_\(name), \(label))")
  }
}
