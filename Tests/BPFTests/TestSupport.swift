import CSonde
import PerfEvents
import SondeBPFTypes

#if canImport(Glibc)
  import Glibc
#endif

/// Directory of the built products (the test bundle sits next to them in .build/<triple>/debug).
func binPath() -> String {
  var buffer = [CChar](repeating: 0, count: 4096)
  let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
  let exe = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
  var components = exe.split(separator: "/", omittingEmptySubsequences: false)
  // …/debug/SondePackageTests.xctest (a file on Linux) or …/debug/X.xctest/… : cut at the .xctest component.
  if let index = components.firstIndex(where: { $0.hasSuffix(".xctest") }) { components = Array(components[..<index]) }
  return components.joined(separator: "/")
}

/// The demo workload binary built with the package.
var demoBinary: String { binPath() + "/sonde-demo" }

/// A child process started paused (so probes can be attached to its pid first), then released.
struct PausedChild {
  let pid: Int32
  private let goFD: Int32

  init(_ path: String, _ arguments: [String]) throws {
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var envp: [UnsafeMutablePointer<CChar>?] = [nil]
    var child = sonde_paused_child()
    let rc = argv.withUnsafeBufferPointer { args in
      envp.withUnsafeMutableBufferPointer { env in
        sonde_spawn_paused(path, args.baseAddress, env.baseAddress, &child)
      }
    }
    guard rc == 0 else { throw SondeError.system("spawn \(path)") }
    close(child.error_fd)
    pid = child.pid
    goFD = child.go_fd
  }

  /// Lets the child exec and waits for it; returns its exit status.
  func run() -> Int32 {
    var byte: UInt8 = 1
    _ = write(goFD, &byte, 1)
    close(goFD)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xff
  }
}

/// Runs a command to completion and returns its standard output (for oracles such as bpftool).
func runCommand(_ path: String, _ arguments: [String]) -> String? {
  var fds: [Int32] = [0, 0]
  guard pipe(&fds) == 0 else { return nil }
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
  posix_spawn_file_actions_addclose(&actions, fds[0])
  let argv = ([path] + arguments).map { strdup($0) } + [nil]
  defer { for pointer in argv { free(pointer) } }
  var pid: pid_t = 0
  let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
  close(fds[1])
  guard rc == 0 else {
    close(fds[0])
    return nil
  }
  var output: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = read(fds[0], &chunk, chunk.count)
    if n > 0 { output.append(contentsOf: chunk[0..<n]) } else if n < 0 && errno == EINTR { continue } else { break }
  }
  close(fds[0])
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  return String(decoding: output, as: UTF8.self)
}

/// The calling thread's id (BPF programs filter on it so parallel tests do not disturb each other).
var currentTID: UInt32 { UInt32(sonde_gettid()) }

/// Makes exactly `count` getpid system calls on this thread (syscall(SYS_getpid): never a cached value).
func callGetpid(_ count: Int) {
  for _ in 0..<count { _ = sonde_syscall_getpid() }
}
