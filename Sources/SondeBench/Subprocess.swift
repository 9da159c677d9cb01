import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A command the benchmark runs beside the workload (a profiler) or as the workload: spawned with its
/// standard output and error in files, signalled, and waited for with a deadline. Killed (SIGKILL) and
/// reaped if its owner lets go of it while it runs, so no profiler outlives the benchmark.
final class Subprocess {
  let pid: Int32
  let arguments: [String]
  let stdoutPath: String
  let stderrPath: String
  private(set) var exitStatus: Int32?

  /// Spawns `arguments` (the first resolved through PATH) with stdin from /dev/null and `environment`
  /// (NAME=value) added to the benchmark's own.
  init(_ arguments: [String], stdout: String, stderr: String, environment: [String] = []) throws(SondeError) {
    guard let command = arguments.first else { throw .invalid("bench", "no command given") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var child: pid_t = 0
    let env = PausedChild.currentEnvironment()
    let rc = withCStrings(arguments) { argv in
      withCStrings(env + environment) { envp in
        posix_spawnp(
          &child, command, &actions, nil, UnsafeMutablePointer(mutating: argv), UnsafeMutablePointer(mutating: envp))
      }
    }
    guard rc == 0 else {
      throw SondeError(.invalidInput, operation: "bench: start '\(command)'", errno: rc, reason: errnoDescription(rc))
    }
    pid = child
    self.arguments = arguments
    stdoutPath = stdout
    stderrPath = stderr
  }

  deinit {
    if exitStatus == nil {
      kill(pid, SIGKILL)
      _ = waitUntil(deadline: .infinity)
    }
  }

  /// Whether it is still running (reaps it when it has ended).
  var isRunning: Bool { exitStatus == nil && !reap(blocking: false) }

  func signal(_ number: Int32) {
    if exitStatus == nil { kill(pid, number) }
  }

  /// Waits until it exits or `deadline` (monotonic seconds) passes; true when it exited.
  @discardableResult
  func waitUntil(deadline: Double) -> Bool {
    while exitStatus == nil {
      if reap(blocking: false) { return true }
      if monotonicSeconds() >= deadline { return false }
      usleep(5000)
    }
    return true
  }

  /// Asks it to finish (SIGINT, as Ctrl-C), and kills it when it has not within `grace` seconds.
  /// Returns whether it ended on its own.
  @discardableResult
  func interrupt(grace: Double) -> Bool {
    signal(SIGINT)
    if waitUntil(deadline: monotonicSeconds() + grace) { return true }
    signal(SIGKILL)
    waitUntil(deadline: .infinity)
    return false
  }

  /// What it wrote to standard output and error.
  var output: String { readSmallFile(stdoutPath) ?? "" }
  var errorOutput: String { readSmallFile(stderrPath) ?? "" }

  private func reap(blocking: Bool) -> Bool {
    var status: Int32 = 0
    while true {
      let rc = waitpid(pid, &status, blocking ? 0 : WNOHANG)
      if rc == pid { break }
      if rc == 0 { return false }
      if errno == EINTR { continue }
      status = -1  // already reaped elsewhere: nothing more to learn
      break
    }
    exitStatus = status
    return true
  }
}
