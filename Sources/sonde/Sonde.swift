import ArgumentParser

/// The `sonde` command: each verb lives in its own file and is listed here.
@main
struct Sonde: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sonde",
    abstract: "Linux performance events and eBPF, from Swift.",
    version: "0.1.0",
    subcommands: [
      // Verbs, one file each (…Command.swift). Keep one per line so parallel work merges cleanly.
      FeaturesCommand.self
    ]
  )
}
