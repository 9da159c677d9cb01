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
    do {
      // A closed pipe (script | head) ends the output, not the process with an error.
      try ScriptEngine.run(path: input) { text in try? standardOutput.writeAll(text, "write(stdout)") }
    } catch {
      writeError("\(error)", verb: "script")
      throw ExitCode.failure
    }
  }
}
