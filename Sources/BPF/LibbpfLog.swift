import CLibbpf
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Captures libbpf's diagnostic messages instead of letting libbpf print them to stderr.
///
/// Library code never prints: libbpf's warnings (CO-RE relocation failures, which program failed to
/// load) are attached to the errors Sonde throws. libbpf calls its print callback synchronously on the
/// thread that called it, so messages are kept per thread while that thread is inside a libbpf call
/// (between `mark()` and `messages(since:)`), and concurrent loads never see each other's lines.
enum LibbpfLog {
  private struct Capture {
    var depth = 0
    var lines: [String] = []
  }

  private static let captures = Mutex<[UInt: Capture]>([:])
  private static let capacity = 512

  /// Installs the print callback once.
  static let installed: Bool = {
    _ = libbpf_set_print { level, format, arguments in
      guard let format, let arguments, level != LIBBPF_DEBUG else { return 0 }
      var buffer = [CChar](repeating: 0, count: 1024)
      _ = vsnprintf(&buffer, buffer.count, format, arguments)
      let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      LibbpfLog.append(text)
      return 0
    }
    return true
  }()

  private static var thread: UInt { UInt(pthread_self()) }

  static func append(_ text: String) {
    let thread = self.thread
    captures.withLock { captures in
      guard var capture = captures[thread] else { return }  // nobody is listening on this thread
      capture.lines += text.split(separator: "\n").map(String.init)
      if capture.lines.count > capacity { capture.lines.removeFirst(capture.lines.count - capacity) }
      captures[thread] = capture
    }
  }

  /// Starts listening on this thread; pass the result to `messages(since:)`, which stops listening.
  static func mark() -> Int {
    _ = installed
    let thread = self.thread
    return captures.withLock { captures in
      var capture = captures[thread] ?? Capture()
      capture.depth += 1
      captures[thread] = capture
      return capture.lines.count
    }
  }

  /// Messages this thread logged since `mark`; ends the capture that `mark()` started.
  @discardableResult
  static func messages(since mark: Int) -> [String] {
    let thread = self.thread
    return captures.withLock { captures in
      guard var capture = captures[thread] else { return [] }
      let lines = mark < capture.lines.count ? Array(capture.lines[max(mark, 0)...]) : []
      capture.depth -= 1
      captures[thread] = capture.depth > 0 ? capture : nil
      return lines
    }
  }
}
