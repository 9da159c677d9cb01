import Foundation
import SondeTestSupport
import Testing

/// A `sonde-agent` process under test: started on a data directory with a loopback port of its own,
/// stopped with SIGTERM or killed with SIGKILL, its log kept for failure messages.
final class AgentProcess {
  let process = Process()
  let data: String
  let log: String
  private(set) var address = ""

  /// Starts the agent and waits until it listens (it writes DATA/agent.address).
  init(data: String, arguments: [String] = []) throws {
    self.data = data
    log = data + ".log"
    try? FileManager.default.removeItem(atPath: data + "/agent.address")
    process.executableURL = URL(fileURLWithPath: TestSupport.binDirectory + "/sonde-agent")
    process.arguments = ["--data", data, "--listen", "127.0.0.1:0"] + arguments
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = FileHandle(forWritingAtPath: log)
    handle?.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
      if let text = try? String(contentsOfFile: data + "/agent.address", encoding: .utf8), text.hasSuffix("\n") {
        address = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return
      }
      guard process.isRunning else { break }
      usleep(50_000)
    }
    process.terminate()
    throw HarnessError("the agent did not start listening:\n\(logText)")
  }

  var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
  var url: String { "http://\(address)" }

  /// SIGTERM and wait (the graceful path).
  func stop() {
    guard process.isRunning else { return }
    process.terminate()
    process.waitUntilExit()
  }

  /// SIGKILL and wait (a crash).
  func kill9() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }

  deinit { kill9() }
}

struct HarnessError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// HTTP through curl, a real client: the status code and the body.
func httpGet(_ url: String, headers: [String] = [], to file: String? = nil, timeout: Int = 60) throws -> (
  status: Int, body: String
) {
  var arguments = ["-s", "-m", String(timeout), "-w", "\n%{http_code}"]
  for h in headers { arguments += ["-H", h] }
  if let file { arguments += ["-o", file] }
  let out = try TestSupport.run("curl", arguments + [url])
  guard let newline = out.stdout.lastIndex(of: "\n"), let status = Int(out.stdout[out.stdout.index(after: newline)...])
  else { throw HarnessError("curl \(url): \(out.stderr)") }
  return (status, String(out.stdout[..<newline]))
}

/// Polls `condition` every half second until it holds or `seconds` pass.
func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  repeat {
    if try condition() { return true }
    usleep(500_000)
  } while Date() < deadline
  return try condition()
}

/// Runs the demo workload in the background (`sonde-demo MODE ARG`) until `stop`.
final class DemoWorkload {
  let process = Process()
  init(_ arguments: [String]) throws {
    process.executableURL = URL(fileURLWithPath: TestSupport.demo)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
  }
  func stop() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
  }
  deinit { stop() }
}
