import ArgumentParser
import PerfEvents
import SondeCore
import SondeSystem

/// `sonde stat`: count events for a command, processes, threads or CPUs, in perf stat's formats.
struct StatCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stat",
    abstract: "Count performance events (perf stat compatible).",
    discussion: "Results go to stderr (or -o FILE) so the command's own output stays untouched.")

  @Option(name: [.short, .customLong("event")], help: "Events to count (perf syntax; repeatable, comma lists).")
  var events: [String] = []

  @OptionGroup var targets: TargetOptions

  @Option(
    name: [.customShort("I"), .customLong("interval-print")], parsing: .unconditional,
    help: "Print deltas every MS milliseconds.")
  var interval: Int?

  @Option(
    name: [.short, .customLong("repeat")], parsing: .unconditional,
    help: "Run the command N times; print means and variance.")
  var repeats: Int = 1

  @Option(name: [.customShort("x"), .customLong("field-separator")], help: "CSV output with this separator (perf -x).")
  var separator: String?

  @Flag(name: [.short, .customLong("json")], help: "JSON lines with perf's keys.")
  var json = false

  @Option(name: [.short, .customLong("output")], help: "Write results to FILE instead of stderr.")
  var output: String?

  @Flag(name: .customLong("no-inherit"), help: "Do not count child tasks created after start.")
  var noInherit = false

  @Argument(parsing: .captureForPassthrough, help: "Command to run and count (after --).")
  var command: [String] = []

  func validate() throws {
    if let separator, separator.isEmpty { throw ValidationError("-x needs a separator, such as -x, or -x ';'") }
    if repeats < 1 { throw ValidationError("-r must be at least 1") }
    if let output, output.isEmpty { throw ValidationError("-o needs a file name") }
    try targets.validate(command: command, verb: "counts")
  }

  mutating func run() throws {
    try reportingErrors(verb: "stat") {
      let commandArgs = command.first == "--" ? Array(command.dropFirst()) : command
      var scope = StatRequest.Scope.command
      var description = "'\(commandArgs.joined(separator: " "))'"
      if let pids = try targets.processIDs() {
        scope = .processes(pids)
        description = "process id '\(pids.map(String.init).joined(separator: ","))'"
      } else if let tids = try targets.threadIDs() {
        scope = .threads(tids)
        description = "thread id '\(tids.map(String.init).joined(separator: ","))'"
      } else if targets.isSystemWide {
        let cpus = targets.cpus
        let list = try targets.cpuList() ?? CPUList.online()
        let online = Set(CPUList.online())
        for cpu in list where !online.contains(cpu) {
          throw CLIError(
            .invalid(
              "stat -C", "CPU \(cpu) is not online (online: \(online.sorted().map(String.init).joined(separator: ",")))"
            ))
        }
        scope = .cpus(list, allOnline: cpus == nil)
        description = cpus == nil ? "'system wide'" : "'CPU(s) \(cpus!)'"
      } else if commandArgs.isEmpty {
        throw CLIError(.invalid("stat", "nothing to count", remedy: "give a command after '--', or -p PID, -t TID, -a"))
      }
      let systemWide: Bool = if case .cpus = scope { true } else { false }
      let groups = events.isEmpty ? StatRequest.defaultEvents(systemWide: systemWide) : try EventParser().parse(events)
      var request = StatRequest(groups: groups, scope: scope, command: commandArgs.isEmpty ? nil : commandArgs)
      request.intervalMilliseconds = interval
      request.repeats = repeats
      request.inherit = !noInherit
      if let interval, interval < 10 {
        throw CLIError(.invalid("stat -I", "interval must be at least 10 ms"))
      }
      if repeats > 1 && request.command == nil {
        throw CLIError(.invalid("stat -r", "repeating needs a command"))
      }

      let format: StatRenderer.Format =
        json ? .json : separator.map { .csv(separator: $0) } ?? .human
      let renderer = StatRenderer(format: format, targetDescription: description)
      let sink = try OutputSink(path: output, defaultFD: 2)
      var printedHeader = false
      let result = try StatEngine().run(request, stop: TerminationSignals.stopToken()) { intervalResult in
        if !printedHeader, let header = renderer.intervalHeader { sink.write(header) }
        printedHeader = true
        sink.write(renderer.render(intervalResult, intervalSeconds: Double(interval ?? 1000) / 1000))
      }
      for count in result.counts where count.userSpaceOnly {
        // perf's fallback, said out loud: the numbers exclude the kernel.
        samplingStatus(
          "sonde stat: warning: \(count.event.name) counted user space only (as \(count.event.name):u): kernel counting "
            + "needs CAP_PERFMON or kernel.perf_event_paranoid ≤ 1 (it is \(readSmallFile("/proc/sys/kernel/perf_event_paranoid")?.trimmingWhitespace() ?? "?"))"
        )
      }
      if interval == nil {
        sink.write(renderer.render(result))
      }
      if let code = result.exitCode, code != 0 { throw ExitCode(code) }
    }
  }
}
