import BPF
import PerfEvents
import SondeBPFTypes
import SondeCore
import SondeSystem
import Symbols

#if canImport(Glibc)
  import Glibc
#endif

/// The generic tracer behind `sonde trace`: resolves the probes, loads trace.bpf.c configured for them,
/// attaches, and gathers what the kernel aggregates (counts, latency histograms) every `interval` and at
/// the end, streaming events as they come. It never prints: a host gets events through `onEvent` and
/// interval results through `onInterval`. Every BPF program, map and link is released when `run` returns
/// or throws.
public final class Tracer {
  public let options: TraceOptions
  /// Called once the probes are attached, with their labels.
  public var onStart: (([String]) -> Void)?
  /// Called for each event (events mode), in the order the ringbuf holds them.
  public var onEvent: ((TraceEvent) -> Void)?
  /// Called every `interval` with what that interval gathered.
  public var onInterval: ((TraceSnapshot) -> Void)?

  public init(options: TraceOptions) {
    self.options = options
  }

  /// Traces until the duration passes, the command or the processes exit, or `stop` is stopped.
  public func run(stop: StopToken = StopToken()) throws(SondeError) -> TraceRun {
    guard !options.probes.isEmpty else {
      throw SondeError.invalid("trace", "no probe given", remedy: ProbeSpec.grammar)
    }
    if let interval = options.interval, !(interval > 0) {
      throw SondeError.invalid("trace --interval", "the interval must be above 0")
    }
    var pid: Int32?
    if case .processes(let pids) = options.target {
      for p in pids where !fileExists("/proc/\(p)") {
        throw SondeError(
          .noSuchProcess, operation: "trace -p \(p)", reason: "no such process \(p)",
          remedy: "check the pid (ps -e lists them)")
      }
      pid = pids.count == 1 ? pids[0] : nil
    }
    // raw_tp and fentry/fexit programs have their probe index built in: they come first.
    let resolved = try ProbeResolver.resolve(options.probes, pid: pid)
    let probes = resolved.filter(\.usesFixedProgram) + resolved.filter { !$0.usesFixedProgram }
    let program = try TraceProgram(options: options, probes: probes, cgroupID: try options.cgroup.map(Self.cgroupID))
    defer { program.close() }
    let reader = TraceReader(program: program, options: options)

    var launcher: PausedChild?
    switch options.target {
    case .processes(let pids):
      for p in pids { try program.addTarget(p, atExec: false) }
    case .command(let argv):
      let child = try PausedChild(arguments: argv)
      launcher = child
      try program.addTarget(child.pid, atExec: true)
    case .everyone:
      break
    }
    try program.attach(pid: pid)
    let watched: [Int32] = if case .processes(let pids) = options.target { pids } else { [] }
    let end = try RunEnd(stop: stop, duration: options.duration, launcher: launcher, watched: watched)
    try end.waiter.add(program.newProcesses.waitDescriptor, token: 1, label: "new processes of the tracer")
    try launcher?.release()
    onStart?(probes.map(\.label))

    let start = end.start
    var nextInterval = options.interval.map { start + $0 }
    var reason: RunEnd.Reason?
    while reason == nil {
      let now = monotonicSeconds()
      var proposed = nextInterval ?? now + 1
      if options.events { proposed = min(proposed, now + 0.1) }
      let deadline = end.deadline(proposed)
      let ready = try end.waiter.wait(timeoutSeconds: max(0, deadline - now))
      try reader.captureNewProcesses()
      try emitEvents(reader)
      reason = try end.reason(after: ready)
      if reason == nil, let due = nextInterval, monotonicSeconds() >= due, let interval = options.interval {
        var snapshot = try reader.read(sinceLast: true)
        snapshot.elapsedSeconds = monotonicSeconds() - start
        onInterval?(snapshot)
        nextInterval = max(due + interval, monotonicSeconds())
      }
    }
    program.detach()
    try emitEvents(reader)
    var total = try reader.read(sinceLast: false)
    total.elapsedSeconds = monotonicSeconds() - start
    if options.interval != nil {
      var last = try reader.read(sinceLast: true)
      last.elapsedSeconds = total.elapsedSeconds
      onInterval?(last)
    }

    let exitCode = try end.finishCommand(reason)
    return TraceRun(
      total: total, probes: probes.map(\.label), commandExitCode: exitCode, interrupted: reason == .stopped)
  }

  private func emitEvents(_ reader: TraceReader) throws(SondeError) {
    guard options.events else { return }
    for event in try reader.events() { onEvent?(event) }
  }

  /// A cgroup v2 directory's id (its inode number), which bpf_get_current_cgroup_id returns.
  static func cgroupID(_ path: String) throws(SondeError) -> UInt64 {
    let full = path.hasPrefix("/") ? path : "/sys/fs/cgroup/" + path
    var st = stat()
    guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
      throw SondeError.invalid("trace --cgroup \(path)", "\(full) is not a cgroup v2 directory")
    }
    return UInt64(st.st_ino)
  }
}
