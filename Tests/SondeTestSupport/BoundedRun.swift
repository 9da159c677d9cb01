import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a program with hard limits, for tests that feed the CLI hostile input: a wall-clock timeout and
/// a cap on the output it may write, enforced by SIGKILL, with how it ended and its peak memory (wait4's
/// rusage) reported instead of thrown. Unlike `TestSupport.run`, a child that hangs, floods its output
/// or blows up cannot take the test process with it.
///
/// The child is started with posix_spawn in a session of its own (so it has no controlling terminal and
/// `/dev/tty` cannot block it), with stdin from /dev/null, stdout and stderr in temporary files (removed
/// afterwards), an empty signal mask, SIGPIPE at its default, and none of the test process's other
/// descriptors (so it never holds another test's pipe open).
public enum BoundedRun {
  /// How a bounded run ended.
  public struct Result: Sendable, CustomStringConvertible {
    /// The exit code, if the program exited.
    public var status: Int32?
    /// The signal that ended it, if it was killed (SIGKILL after a timeout or an output flood).
    public var signal: Int32?
    /// The run outlived its timeout and was killed.
    public var timedOut: Bool
    /// stdout (or stderr) grew beyond the limit and the run was killed.
    public var outputTooLarge: Bool
    /// Peak resident set size of the child in kilobytes (VmHWM, sampled while it runs; 0 if it ended first).
    public var maxRSSKilobytes: Int
    public var elapsedSeconds: Double
    /// Bytes the program wrote to stdout (all of them, not only the captured prefix).
    public var stdoutBytes: Int
    /// Bytes the program wrote to stderr.
    public var stderrBytes: Int
    /// The first `BoundedRun.capturedPrefixBytes` of stderr.
    public var stderr: String
    /// The first `BoundedRun.capturedPrefixBytes` of stdout.
    public var stdoutPrefix: String

    public init(
      status: Int32?, signal: Int32?, timedOut: Bool, outputTooLarge: Bool, maxRSSKilobytes: Int,
      elapsedSeconds: Double, stdoutBytes: Int, stderrBytes: Int, stderr: String, stdoutPrefix: String
    ) {
      self.status = status
      self.signal = signal
      self.timedOut = timedOut
      self.outputTooLarge = outputTooLarge
      self.maxRSSKilobytes = maxRSSKilobytes
      self.elapsedSeconds = elapsedSeconds
      self.stdoutBytes = stdoutBytes
      self.stderrBytes = stderrBytes
      self.stderr = stderr
      self.stdoutPrefix = stdoutPrefix
    }

    /// One line: how it ended, time, memory and output sizes.
    public var description: String {
      var ended: String
      if let status {
        ended = "exit \(status)"
      } else if let signal {
        ended = "signal \(signal)"
      } else {
        ended = "unknown end"
      }
      if timedOut { ended += " (timed out)" }
      if outputTooLarge { ended += " (output too large)" }
      let seconds = (elapsedSeconds * 1000).rounded() / 1000
      return
        "\(ended) after \(seconds) s, max RSS \(maxRSSKilobytes) KB, stdout \(stdoutBytes) B, stderr \(stderrBytes) B"
    }
  }

  /// A failure to start or wait for the program (not a failure of the program itself).
  public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public init(operation: String, code: Int32) {
      self.operation = operation
      self.code = code
    }
    public var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
  }

  /// VmHWM of a running process (its own image's peak RSS). wait4's ru_maxrss is no use here: a child
  /// spawned by a large test process inherits that process's high-water mark from before its exec.
  static func highWaterKilobytes(_ pid: pid_t) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
  }

  /// How much of stdout and of stderr a result keeps.
  public static let capturedPrefixBytes = 64 * 1024

  /// Runs `argv` (argv[0] an absolute path; no PATH lookup) to completion or until a limit is hit.
  /// The output limit applies to stdout and, as a guard against warning floods, to stderr too.
  public static func run(_ argv: [String], timeoutSeconds: Double, stdoutLimitBytes: Int) throws -> Result {
    guard let program = argv.first, program.hasPrefix("/") else {
      throw SpawnError(operation: "spawn '\(argv.first ?? "")': argv[0] must be an absolute path", code: EINVAL)
    }
    let out = try CaptureFile("stdout")
    defer { out.remove() }
    let err = try CaptureFile("stderr")
    defer { err.remove() }

    var actions = posix_spawn_file_actions_t()
    var rc = posix_spawn_file_actions_init(&actions)
    guard rc == 0 else { throw SpawnError(operation: "posix_spawn_file_actions_init", code: rc) }
    defer { posix_spawn_file_actions_destroy(&actions) }
    rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    guard rc == 0 else { throw SpawnError(operation: "posix_spawn_file_actions_addopen(0)", code: rc) }
    rc = posix_spawn_file_actions_addopen(&actions, 1, out.path, O_WRONLY | O_TRUNC, 0o600)
    guard rc == 0 else { throw SpawnError(operation: "posix_spawn_file_actions_addopen(1)", code: rc) }
    rc = posix_spawn_file_actions_addopen(&actions, 2, err.path, O_WRONLY | O_TRUNC, 0o600)
    guard rc == 0 else { throw SpawnError(operation: "posix_spawn_file_actions_addopen(2)", code: rc) }
    // Everything else the test process has open (other tests' pipes, the capture files' own descriptors)
    // stays out of the child. glibc ignores EBADF here, so a descriptor closed meanwhile is harmless.
    for fd in openDescriptors() where fd > 2 {
      _ = posix_spawn_file_actions_addclose(&actions, fd)
    }

    var attributes = posix_spawnattr_t()
    rc = posix_spawnattr_init(&attributes)
    guard rc == 0 else { throw SpawnError(operation: "posix_spawnattr_init", code: rc) }
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    _ = posix_spawnattr_setsigmask(&attributes, &noSignals)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGPIPE)
    _ = posix_spawnattr_setsigdefault(&attributes, &defaults)
    // glibc's POSIX_SPAWN_SETSIGDEF (0x04) | POSIX_SPAWN_SETSIGMASK (0x08) | POSIX_SPAWN_SETSID (0x80);
    // SETSID is a GNU extension the Glibc module does not necessarily import, so the values are spelled out.
    rc = posix_spawnattr_setflags(&attributes, Int16(0x04 | 0x08 | 0x80))
    guard rc == 0 else { throw SpawnError(operation: "posix_spawnattr_setflags", code: rc) }

    var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
    cArguments.append(nil)
    defer { for p in cArguments { free(p) } }

    var pid: pid_t = 0
    let start = monotonicSeconds()
    rc = posix_spawn(&pid, program, &actions, &attributes, cArguments, environ)
    guard rc == 0 else { throw SpawnError(operation: "posix_spawn(\(program))", code: rc) }
    var peakKilobytes = 0

    var status: Int32 = 0
    var usage = rusage()
    var timedOut = false
    var outputTooLarge = false
    var interval: UInt32 = 1000
    while true {
      let reaped = wait4(pid, &status, WNOHANG, &usage)
      if reaped == pid { break }
      if reaped < 0 {
        if errno == EINTR { continue }
        let code = errno
        kill(pid, SIGKILL)
        throw SpawnError(operation: "wait4(\(pid))", code: code)
      }
      if monotonicSeconds() - start > timeoutSeconds {
        timedOut = true
      } else if out.size > stdoutLimitBytes || err.size > stdoutLimitBytes {
        outputTooLarge = true
      }
      if timedOut || outputTooLarge {
        // The child leads its own session and process group: take any helpers it started along.
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        while true {
          let r = wait4(pid, &status, 0, &usage)
          if r == pid { break }
          if r < 0 && errno != EINTR { throw SpawnError(operation: "wait4(\(pid))", code: errno) }
        }
        break
      }
      peakKilobytes = max(peakKilobytes, Self.highWaterKilobytes(pid))
      usleep(interval)
      interval = min(interval * 2, 5000)
    }
    let elapsed = monotonicSeconds() - start

    // wait(2) status without the macros Swift does not import: low 7 bits 0 = exited (code in bits
    // 8–15); 0x7f = stopped (not requested here); anything else = the terminating signal.
    let low = status & 0x7f
    let exitStatus: Int32? = low == 0 ? (status >> 8) & 0xff : nil
    let signal: Int32? = low != 0 && low != 0x7f ? low : nil
    return Result(
      status: exitStatus, signal: signal, timedOut: timedOut, outputTooLarge: outputTooLarge,
      maxRSSKilobytes: peakKilobytes, elapsedSeconds: elapsed, stdoutBytes: out.size,
      stderrBytes: err.size, stderr: err.prefix(capturedPrefixBytes), stdoutPrefix: out.prefix(capturedPrefixBytes))
  }

  /// A temporary file the child writes one stream into; the parent keeps a descriptor to watch its size
  /// and read it back.
  struct CaptureFile {
    let path: String
    let fd: Int32

    init(_ label: String) throws {
      let directory = NSTemporaryDirectory()
      let base = directory.hasSuffix("/") ? directory : directory + "/"
      var template = Array((base + "sonde-bounded-\(label)-XXXXXX").utf8CString)
      let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
      guard descriptor >= 0 else { throw SpawnError(operation: "mkstemp(\(base))", code: errno) }
      fd = descriptor
      path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    var size: Int {
      var info = stat()
      return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    func prefix(_ limit: Int) -> String {
      let count = min(limit, size)
      guard count > 0 else { return "" }
      var buffer = [UInt8](repeating: 0, count: count)
      let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
      return String(decoding: buffer.prefix(max(got, 0)), as: UTF8.self)
    }

    func remove() {
      close(fd)
      unlink(path)
    }
  }

  static func openDescriptors() -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
  }

  static func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
  }
}
