import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// ftrace's function tracer driven through tracefs: sets the filter (a glob of kernel functions) and the
/// pid, switches `current_tracer` to `function` and streams `trace_pipe` until stopped. The tracefs files
/// it changes are read first and written back when it returns or throws (after Ctrl-C too), so tracing is
/// left as it was found. Where the kernel lacks the tracer, or refuses it, the error says which.
public struct FunctionTracer {
  public var functionGlob: String
  public var pid: Int32?
  public var duration: Double?

  public init(functionGlob: String, pid: Int32? = nil, duration: Double? = nil) {
    self.functionGlob = functionGlob
    self.pid = pid
    self.duration = duration
  }

  /// The tracefs control files the run writes, and what they held.
  private struct SavedState {
    var files: [(path: String, text: String)] = []
  }

  /// Traces until the duration passes or `stop` is stopped; `onStart` is called once the tracer is on, and
  /// `output` gets trace_pipe's text as it comes.
  public func run(stop: StopToken, onStart: () -> Void = {}, output: (String) -> Void) throws(SondeError) {
    let operation = "trace kernel functions '\(functionGlob)'"
    guard let root = TraceFS.root else { throw TraceFS.notMounted(operation) }
    let tracers = (readSmallFile(root + "/available_tracers") ?? "").split(separator: " ").map {
      $0.trimmingWhitespace()
    }
    guard tracers.contains("function") else {
      throw SondeError.unsupported(
        operation, facility: .ftraceFunctionTracer, cause: .missingConfig("CONFIG_FUNCTION_TRACER"),
        reason: "the kernel has no function tracer (available_tracers: \(tracers.joined(separator: " ")))")
    }
    var saved = SavedState()
    defer { restore(saved) }
    try write(root + "/set_ftrace_filter", functionGlob, saving: &saved, operation: operation)
    if let pid {
      try write(root + "/set_ftrace_pid", String(pid), saving: &saved, operation: operation)
    } else if access(root + "/set_ftrace_notrace_pid", F_OK) == 0 {
      // Tracing every task includes the thread that reads trace_pipe: with a filter such as vfs_read each
      // read would trace itself. Leave it out, as perf ftrace does (the file exists since Linux 5.9).
      let reader = String(sonde_gettid())
      try write(root + "/set_ftrace_notrace_pid", reader, saving: &saved, operation: operation)
    }
    try write(root + "/current_tracer", "function", saving: &saved, operation: operation)
    onStart()
    try stream(root + "/trace_pipe", stop: stop, output: output, operation: operation)
  }

  /// Saves `path`'s contents, then writes `text` to it (a tracefs control file: written through, truncated).
  private func write(_ path: String, _ text: String, saving saved: inout SavedState, operation: String)
    throws(SondeError)
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    let readCode = errno
    guard fd >= 0 else { throw refused(path, readCode, operation) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while bytes.count < 16 << 20 {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      bytes += buffer[0..<n]
    }
    close(fd)
    // current_tracer and set_ftrace_pid hold one value; the filter lists functions one per line
    // ("#### all functions enabled ####" when empty).
    var old = String(decoding: bytes, as: UTF8.self)
    if old.hasPrefix("#") || old.hasPrefix("no pid") { old = "" }
    try put(path, text, operation: operation)
    saved.files.append((path, old))
  }

  private func put(_ path: String, _ text: String, operation: String) throws(SondeError) {
    let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
    var code = errno
    guard fd >= 0 else { throw refused(path, code, operation) }
    defer { close(fd) }
    let data = Array((text.isEmpty ? " " : text).utf8)
    let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    code = errno
    guard n == data.count else {
      if code == EINVAL && path.hasSuffix("set_ftrace_filter") {
        throw SondeError.invalid(
          operation, "no kernel function matches '\(text)'",
          remedy: "list them in \(path.dropLast("set_ftrace_filter".count))available_filter_functions")
      }
      throw refused(path, code, operation)
    }
  }

  /// Writes back what the run changed, in reverse order (the tracer off before its filter is cleared).
  private func restore(_ saved: SavedState) {
    for (path, text) in saved.files.reversed() {
      let value = path.hasSuffix("current_tracer") && text.trimmingWhitespace().isEmpty ? "nop" : text
      try? put(path, value.trimmingWhitespace().isEmpty ? "" : value, operation: "restore \(path)")
    }
  }

  private func refused(_ path: String, _ code: Int32, _ operation: String) -> SondeError {
    if code == EPERM || code == EACCES || code == EBUSY || code == ENODEV {
      return SondeError.unsupported(
        operation, facility: .ftraceFunctionTracer, cause: .deniedByPolicy, errno: code,
        reason:
          "the kernel refuses the function tracer: \(path) gave \(errnoName(code)) to root (ftrace function hooks are blocked, e.g. by lockdown or a VM policy)",
        remedy: "trace tracepoints instead (sonde trace count 'tracepoint:…'), or run on a kernel that allows ftrace")
    }
    return SondeError(.system, operation: operation, errno: code, reason: "\(path): \(errnoName(code))")
  }

  /// Copies trace_pipe's text to `output` until the duration passes or `stop` is stopped.
  private func stream(_ path: String, stop: StopToken, output: (String) -> Void, operation: String)
    throws(SondeError)
  {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    let code = errno
    guard fd >= 0 else { throw refused(path, code, operation) }
    defer { close(fd) }
    let waiter = try EventWaiter(stop: stop)
    try waiter.add(fd, token: 1, label: path)
    let start = monotonicSeconds()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !waiter.isStopped {
      var timeout = 0.5
      if let duration {
        let left = start + duration - monotonicSeconds()
        if left <= 0 { break }
        timeout = min(timeout, left)
      }
      _ = try waiter.wait(timeoutSeconds: timeout)
      // At most 4 MiB per wake-up, so a busy trace cannot keep the loop from seeing the duration or the stop.
      for _ in 0..<64 {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        output(String(decoding: buffer[0..<n], as: UTF8.self))
      }
    }
  }
}
