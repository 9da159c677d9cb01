import ArgumentParser
import CSonde
import SondeSystem

/// The `sonde` command: each verb lives in its own file and is listed here.
@main
struct Sonde: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sonde",
    abstract: "Linux performance events and eBPF, from Swift.",
    version: SondeVersion.string,
    subcommands: [
      // Verbs, one file each (…Command.swift). Keep one per line so parallel work merges cleanly.
      ListCommand.self,
      StatCommand.self,
      RecordCommand.self,
      ReportCommand.self,
      ScriptCommand.self,
      ProfileCommand.self,
      TraceCommand.self,
      FtraceCommand.self,
      SymbolizeCommand.self,
      FeaturesCommand.self,
      BenchCommand.self,
      AgentCommand.self,
    ]
  )

  /// Accepts perf's attached short options (`-x,`, `-I100`, `-eCYCLES`) by splitting them before parsing.
  static func main() async {
    sonde_unblock_termination_signals()
    let arguments = PerfStyleArguments.normalize(Array(CommandLine.arguments.dropFirst()))
    do {
      var command = try parseAsRoot(arguments)
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      exit(withError: error)
    }
  }
}

/// perf's argument conventions that swift-argument-parser does not accept as-is.
enum PerfStyleArguments {
  /// Short options that take a value and may be written attached to it (`-x,`).
  static let valueOptions: Set<Character> = ["e", "p", "t", "C", "I", "r", "x", "o", "F", "c"]

  /// Splits `-xVALUE` into `-x VALUE` for value-taking short options, up to the first `--`.
  static func normalize(_ arguments: [String]) -> [String] {
    var result: [String] = []
    var passthrough = false
    for argument in arguments {
      if passthrough || argument == "--" {
        passthrough = true
        result.append(argument)
        continue
      }
      let chars = Array(argument)
      if chars.count > 2, chars[0] == "-", chars[1] != "-", valueOptions.contains(chars[1]) {
        result.append("-" + String(chars[1]))
        result.append(String(chars[2...]))
      } else {
        result.append(argument)
      }
    }
    return result
  }
}
