import ArgumentParser
import PerfEvents

#if canImport(Glibc)
  import Glibc
#endif

/// Where a verb writes its report: stderr (perf's default for stat), stdout, or a file.
final class OutputSink {
  private let fd: Int32
  private let owned: Bool

  init(path: String?, defaultFD: Int32) throws {
    if let path {
      let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
      guard fd >= 0 else { throw CLIError(SondeError.system("open output '\(path)'")) }
      self.fd = fd
      owned = true
    } else {
      fd = defaultFD
      owned = false
    }
  }

  deinit { if owned { close(fd) } }

  func write(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
      if n <= 0 {
        if n < 0 && errno == EINTR { continue }
        return
      }
      offset += n
    }
  }
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
