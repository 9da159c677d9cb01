import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A command forked and held just before exec, so counters can be attached to its pid first and start
/// at exec (`enable_on_exec`): the count covers the command and nothing of Sonde's own set-up.
public final class PausedChild: @unchecked Sendable {
  public let pid: Int32
  public let arguments: [String]
  /// The pipe the child waits on before exec (closing it unreleased makes the child exit).
  private let go: FileDescriptor
  /// Where the child reports a failed exec (its errno), or sees EOF when exec succeeded (close-on-exec).
  private let execError: FileDescriptor
  /// How the child ended, once it has been reaped by `wait()` or `poll()`.
  public private(set) var termination: Termination?

  /// How the child ended, with its resource usage.
  public struct Termination: Sendable, Hashable {
    /// The exit code, or 128 + signal number when killed by a signal (the shell's convention).
    public var exitCode: Int32
    /// The signal that killed it, if any.
    public var signal: Int32?
    /// User and system CPU time in seconds (from wait4's rusage).
    public var userSeconds: Double
    public var systemSeconds: Double
  }

  /// Forks the command (resolved through PATH) and holds it before exec.
  public init(arguments: [String], environment: [String]? = nil) throws(SondeError) {
    guard let command = arguments.first, !command.isEmpty else {
      throw .invalid("start command", "no command given")
    }
    let path = try Self.resolve(command)
    let env = environment ?? Self.currentEnvironment()
    var child = sonde_paused_child()
    let rc = withCStrings(arguments) { argv in
      withCStrings(env) { envp in sonde_spawn_paused(path, argv, envp, &child) }
    }
    if rc != 0 { throw SondeError.system("fork '\(command)'") }
    self.pid = child.pid
    go = FileDescriptor(owning: child.go_fd)
    execError = FileDescriptor(owning: child.error_fd)
    self.arguments = arguments
  }

  deinit {
    // Never released: closing the pipe makes the child exit without running the command.
    go.close()
    execError.close()
    if termination == nil {
      // Released and still running when its owner gave up on it (an error, an interrupt): end it rather
      // than leave it behind or block here.
      kill(pid, SIGKILL)
      _ = try? wait()
    }
  }

  /// Lets the child exec the command. Throws if exec failed (e.g. not executable).
  public func release() throws(SondeError) {
    guard go.rawValue >= 0 else { return }
    try go.writeAll([1], "release '\(arguments[0])'")
    go.close()
    var report = [UInt8](repeating: 0, count: 4)
    let n = (try? execError.read(into: &report, range: 0..<4, "read exec status")) ?? 0
    execError.close()
    let code = report.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
    if n == 4 {
      _ = try? wait()
      throw SondeError(
        .invalidInput, operation: "exec '\(arguments[0])'", errno: code, reason: errnoDescription(code))
    }
  }

  /// Releases the child and waits for it to end.
  public func runToCompletion() throws(SondeError) -> Termination {
    try release()
    return try wait()
  }

  /// Waits for the child to end. Interrupted waits (signals) are retried.
  public func wait() throws(SondeError) -> Termination {
    if let termination { return termination }
    return try reap(blocking: true)!
  }

  /// Reaps the child if it has ended, without blocking; nil while it runs.
  public func poll() throws(SondeError) -> Termination? {
    if let termination { return termination }
    return try reap(blocking: false)
  }

  private func reap(blocking: Bool) throws(SondeError) -> Termination? {
    var status: Int32 = 0
    var usage = rusage()
    while true {
      let rc = wait4(pid, &status, blocking ? 0 : WNOHANG, &usage)
      if rc == pid { break }
      if rc == 0 { return nil }
      if errno == EINTR { continue }
      throw SondeError.system("wait for pid \(pid)")
    }
    termination = Self.termination(status: status, usage: usage)
    return termination
  }

  private static func termination(status: Int32, usage: rusage) -> Termination {
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    let signalled = status & 0x7f
    if signalled != 0 && signalled != 0x7f {
      return Termination(exitCode: 128 + signalled, signal: signalled, userSeconds: user, systemSeconds: system)
    }
    return Termination(exitCode: (status >> 8) & 0xff, signal: nil, userSeconds: user, systemSeconds: system)
  }

  /// Resolves a command name through PATH as execvp would.
  public static func resolve(_ command: String) throws(SondeError) -> String {
    if command.contains("/") {
      guard access(command, X_OK) == 0 else {
        throw SondeError(
          .invalidInput, operation: "start '\(command)'", errno: errno, reason: "not an executable file")
      }
      return command
    }
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(command)"
      var info = stat()
      if access(candidate, X_OK) == 0 && stat(candidate, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
        return candidate
      }
    }
    throw SondeError(.invalidInput, operation: "start '\(command)'", reason: "command not found in PATH")
  }

  /// This process's environment, NAME=value each.
  public static func currentEnvironment() -> [String] {
    var result: [String] = []
    var pointer = environ
    while let entry = pointer.pointee {
      result.append(String(cString: entry))
      pointer += 1
    }
    return result
  }
}
