import ArgumentParser
import PerfEvents

/// `sonde ftrace --function GLOB`: the kernel's function tracer through tracefs, streamed from trace_pipe.
struct FtraceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ftrace",
    abstract: "Stream ftrace's function tracer for kernel functions matching a glob (tracefs restored on exit).",
    discussion: "Example: sonde ftrace --function 'vfs_*' --pid 1234 --duration 5")

  @Option(help: "Kernel functions to trace (a glob, as set_ftrace_filter takes).")
  var function: String
  @Option(name: [.short, .customLong("pid")], help: "Only this process.")
  var pid: Int32?
  @Option(parsing: .unconditional, help: "Stop after this many seconds (default: until Ctrl-C).")
  var duration: Double?

  func validate() throws {
    if function.isEmpty || function.contains("\n") { throw ValidationError("--function needs a glob on one line") }
    if let duration, !(duration > 0) { throw ValidationError("--duration must be above 0") }
  }

  func run() throws {
    let tracer = FunctionTracer(functionGlob: function, pid: pid, duration: duration)
    let stop = TerminationSignals.stopToken()
    do {
      try tracer.run(stop: stop, onStart: { samplingStatus("sonde ftrace: tracing \(function) (Ctrl-C ends it)") }) {
        writeStdout($0)
      }
    } catch {
      writeError("\(error)", verb: "ftrace")
      throw ExitCode.failure
    }
  }
}
