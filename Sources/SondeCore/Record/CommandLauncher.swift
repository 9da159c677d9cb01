import CSonde
import PerfEvents

#if canImport(Glibc)
  import Glibc
#endif

/// A command forked and held before exec (perf's workload-prepare dance): events are opened on its pid
/// with enable_on_exec, then `start()` lets it exec, so counting begins exactly at exec.
final class CommandLauncher {
  let pid: Int32
  private var goFD: Int32
  private var errorFD: Int32
  private(set) var status: Int32?

  init(argv: [String]) throws(SondeError) {
    guard let first = argv.first else { throw SondeError.invalid("record", "no command given") }
    guard let path = Self.resolve(first) else {
      throw SondeError.invalid(
        "record -- \(first)", "command not found: '\(first)'", remedy: "give a path or a program on PATH")
    }
    var child = sonde_paused_child()
    let args = argv.map { strdup($0) } + [nil]
    defer { for a in args { free(a) } }
    let rc = args.withUnsafeBufferPointer { a in
      path.withCString { sonde_spawn_paused($0, a.baseAddress, environ, &child) }
    }
    if rc != 0 { throw SondeError.system("fork(\(first))") }
    pid = child.pid
    goFD = child.go_fd
    errorFD = child.error_fd
  }

  deinit {
    if goFD >= 0 { close(goFD) }  // the child exits 127 without exec
    if errorFD >= 0 { close(errorFD) }
    if status == nil {
      kill(pid, SIGKILL)
      var s: Int32 = 0
      waitpid(pid, &s, 0)
    }
  }

  /// Lets the child exec; throws if exec failed.
  func start() throws(SondeError) {
    var byte: UInt8 = 1
    _ = write(goFD, &byte, 1)
    close(goFD)
    goFD = -1
    var code: Int32 = 0
    var n: Int
    repeat { n = read(errorFD, &code, 4) } while n < 0 && errno == EINTR
    close(errorFD)
    errorFD = -1
    if n == 4 {
      _ = wait(block: true)
      throw SondeError(
        .invalidInput, operation: "exec", errno: code, reason: "the command could not be executed")
    }
  }

  /// Reaps the child if it exited; returns whether it has.
  func wait(block: Bool) -> Bool {
    if status != nil { return true }
    var s: Int32 = 0
    let r = waitpid(pid, &s, block ? 0 : WNOHANG)
    if r == pid {
      status = s
      return true
    }
    return false
  }

  /// Finds a program like execvp does: a name with a slash is a path, otherwise search PATH.
  static func resolve(_ name: String) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(name)"
      if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
  }
}
