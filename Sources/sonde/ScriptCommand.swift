import ArgumentParser
import SondeCore

/// `sonde script`: perf-script-compatible text of every sample (event line + indented frames).
struct ScriptCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "script",
    abstract: "Print every sample of a perf.data file as perf script does (for flame graph tooling).")

  @Option(name: [.short, .customLong("input")], help: "The perf.data file to read.")
  var input = "perf.data"

  func run() throws {
    var buffer = ""
    do {
      try ScriptEngine.run(path: input) { text in
        buffer += text
        if buffer.utf8.count >= 1 << 16 {
          writeStdout(buffer)
          buffer = ""
        }
      }
    } catch {
      writeStdout(buffer)
      writeError("\(error)", verb: "script")
      throw ExitCode.failure
    }
    writeStdout(buffer)
  }
}
