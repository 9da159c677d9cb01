import ArgumentParser
import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Where a verb writes its report: stderr (perf's default for stat), stdout, or a file (written through
/// when it is a device, FIFO or symlink; see `OutputFile`).
final class OutputSink {
  private let file: OutputFile?
  private let fd: FileDescriptor

  init(path: String?, defaultFD: Int32) throws {
    if let path {
      do {
        let file = try OutputFile(path: path, rotate: false, mode: 0o644)
        self.file = file
        fd = file.descriptor
      } catch {
        throw CLIError(error)
      }
    } else {
      file = nil
      fd = FileDescriptor(borrowing: defaultFD)
    }
  }

  func write(_ text: String) { writeText(text, to: fd) }
}

/// The process's standard output and error, borrowed (never closed).
let standardOutput = FileDescriptor(borrowing: 1)
let standardError = FileDescriptor(borrowing: 2)

/// Writes text whole; a closed pipe or full disk on a report stream is not worth more than stopping the write.
func writeText(_ text: String, to fd: FileDescriptor) {
  try? fd.writeAll(Array(text.utf8))
}

/// A Sonde error shown to the user as `sonde: error: …` with its hint, and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
  let error: SondeError
  init(_ error: SondeError) { self.error = error }
  var description: String { error.description }
}

/// Runs a verb body, turning Sonde errors into a clean message on stderr and exit code 1 (never a trace).
func reportingErrors<R>(verb: String, _ body: () throws -> R) throws -> R {
  do {
    return try body()
  } catch let error as SondeError {
    writeError(error.description, verb: verb)
    throw ExitCode(1)
  } catch let error as CLIError {
    writeError(error.description, verb: verb)
    throw ExitCode(1)
  }
}

/// Every verb reports failures the same way: `sonde VERB: error: what (errno)` and an indented hint.
func writeError(_ message: String, verb: String) {
  samplingStatus("sonde \(verb): error: \(message)")
}

/// The target flags every sampling and counting verb shares (perf's `-p/-t/-a/-C`), parsed and checked one way:
/// ids and CPU lists are rejected with a clear error in `validate`, and `-p`/`-t` name existing tasks, so they
/// exclude each other, a command, `-a` and `-C` (perf would silently let one override the other).
struct TargetOptions: ParsableArguments {
  @Option(name: [.short, .customLong("pid")], help: "Existing processes (all their threads): PID[,PID].")
  var pid: String?

  @Option(name: [.short, .customLong("tid")], help: "Existing threads: TID[,TID].")
  var tid: String?

  @Flag(name: [.short, .customLong("all-cpus")], help: "System-wide: every task on every online CPU.")
  var allCPUs = false

  @Option(name: [.customShort("C"), .customLong("cpu")], help: "System-wide on these CPUs only (e.g. 0-1,3).")
  var cpus: String?

  func validate() throws {
    if pid != nil && tid != nil { throw ValidationError("give -p or -t, not both") }
    if let cpus, cpus.isEmpty { throw ValidationError("-C needs a CPU list such as 0-1,3") }
    do {
      _ = try processIDs()
      _ = try threadIDs()
      _ = try cpuList()
    } catch let error as CLIError {
      throw ValidationError(error.description)
    }
  }

  /// The command's checks against the targets: `verb` reads "records" or "counts" in the messages.
  func validate(command: [String], verb: String) throws {
    let hasCommand = !command.isEmpty && command != ["--"]
    guard pid != nil || tid != nil else { return }
    let flag = pid != nil ? "-p" : "-t"
    if hasCommand { throw ValidationError("\(flag) \(verb) existing tasks: give \(flag) or a command, not both") }
    if allCPUs { throw ValidationError("-a \(verb) every task: give -a or \(flag), not both") }
    if cpus != nil { throw ValidationError("-C \(verb) whole CPUs: give -C or \(flag), not both") }
  }

  /// -p, parsed.
  func processIDs() throws -> [Int32]? { try pid.map { try parseIDs($0, what: "pid") } }
  /// -t, parsed.
  func threadIDs() throws -> [Int32]? { try tid.map { try parseIDs($0, what: "thread id") } }
  /// -C, parsed.
  func cpuList() throws -> [Int32]? {
    do {
      return try cpus.map { text throws(SondeError) in try CPUList.parse(text) }
    } catch {
      throw CLIError(error)
    }
  }
  /// -a or -C: every task on the CPUs.
  var isSystemWide: Bool { allCPUs || cpus != nil }
}

/// Parses a comma-separated list of ids (`-p 1,2`).
func parseIDs(_ text: String, what: String) throws -> [Int32] {
  var ids: [Int32] = []
  for piece in text.split(separator: ",") {
    guard let id = Int32(piece.trimmingWhitespace()), id > 0 else {
      throw CLIError(.invalid("parse \(what) list", "'\(piece)' is not a valid \(what)"))
    }
    ids.append(id)
  }
  if ids.isEmpty { throw CLIError(.invalid("parse \(what) list", "empty \(what) list")) }
  return ids
}

/// Writes a whole output file (folded stacks, a flame graph): a device, FIFO or symlink is written through,
/// never replaced; a failure is reported under `verb` and exits.
func writeWholeFile(_ path: String, _ text: String, verb: String) throws {
  try writeWholeFile(path, bytes: Array(text.utf8), verb: verb)
}

/// Writes `bytes` to `path` as `writeWholeFile(_:_:verb:)` writes text.
func writeWholeFile(_ path: String, bytes: [UInt8], verb: String) throws {
  do {
    let file = try OutputFile(path: path, rotate: false, mode: 0o644)
    defer { file.close() }
    try file.descriptor.writeAll(bytes, "write(\(path))")
  } catch {
    writeError(error.description, verb: verb)
    throw ExitCode.failure
  }
}
