import ArgumentParser
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde agent`: runs the `sonde-agent` executable installed beside `sonde` with the same arguments. The
/// agent links a web server, SQLite and the service lifecycle; keeping it a separate executable keeps them
/// out of every other verb.
struct AgentCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agent",
    abstract: "Always-on system-wide profiling: a local store, a web UI, pprof, Prometheus metrics, push.",
    discussion: "Runs sonde-agent (installed beside sonde); 'sonde agent --help' shows its options.")

  @Argument(parsing: .captureForPassthrough, help: "Options of sonde-agent.")
  var arguments: [String] = []

  func run() throws {
    let directory = (readLink("/proc/self/exe") ?? CommandLine.arguments[0]).split(
      separator: "/", omittingEmptySubsequences: false
    ).dropLast().joined(separator: "/")
    let path = directory + "/sonde-agent"
    guard access(path, X_OK) == 0 else {
      throw SondeError(
        .notSupported, operation: "sonde agent", reason: "\(path) is missing",
        remedy: "build it: swift build -c release --product sonde-agent")
    }
    let argv = [path] + arguments
    var cArguments = argv.map { strdup($0) } + [nil]
    execv(path, &cArguments)
    let e = errno
    throw SondeError(.system, operation: "exec \(path)", errno: e, reason: errnoDescription(e))
  }
}
