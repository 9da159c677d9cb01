import CLibbpf
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Captures libbpf's diagnostic messages instead of letting libbpf print them to stderr.
///
/// Library code never prints: libbpf's warnings (CO-RE relocation failures, missing attach targets) are
/// kept in a small ring of recent lines and attached to the errors Sonde throws.
enum LibbpfLog {
  private static let lines = Mutex<(serial: Int, recent: [String])>((0, []))
  private static let capacity = 256

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

  static func append(_ text: String) {
    lines.withLock { state in
      for line in text.split(separator: "\n") {
        state.recent.append(String(line))
        state.serial += 1
      }
      if state.recent.count > capacity { state.recent.removeFirst(state.recent.count - capacity) }
    }
  }

  /// A marker: messages logged after it can be fetched with `messages(since:)`.
  static func mark() -> Int {
    _ = installed
    return lines.withLock { $0.serial }
  }

  /// Messages logged since `mark` (possibly interleaved with other threads' messages).
  static func messages(since mark: Int) -> [String] {
    lines.withLock { state in
      let count = min(state.serial - mark, state.recent.count)
      return count > 0 ? Array(state.recent.suffix(count)) : []
    }
  }
}
