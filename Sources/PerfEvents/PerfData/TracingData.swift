import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The HEADER_TRACING_DATA feature (bit 1): the tracefs files perf needs to name tracepoint samples and
/// decode their RAW fields.
///
/// Layout, as perf 6.1 writes and reads it (all integers little-endian on x86):
/// `"\x17\x08\x44tracing"` | version `"0.6\0"` | endianness u8 (0 = little) | sizeof(long) u8 |
/// page size u32 | `"header_page\0"` u64 size + tracefs events/header_page |
/// `"header_event\0"` u64 size + events/header_event | ftrace format count u32 + (u64 size + format)… |
/// system count u32 + (system name NUL-terminated, event count u32, (u64 size + format)…)… |
/// kallsyms u32 size + text | printk_formats u32 size + text | saved_cmdlines u64 size + text.
public struct TracingData: Sendable, Equatable {
  /// One tracepoint subsystem and the `format` files of its recorded events.
  public struct System: Sendable, Equatable {
    public var name: String
    public var formats: [[UInt8]]

    public init(name: String, formats: [[UInt8]]) {
      self.name = name
      self.formats = formats
    }
  }

  public var version = "0.6"
  public var bigEndian = false
  public var longSize: UInt8 = UInt8(MemoryLayout<Int>.size)
  public var pageSize = UInt32(4096)
  public var headerPage: [UInt8] = []
  public var headerEvent: [UInt8] = []
  /// Formats of recorded events of the `ftrace` subsystem (written apart from the other systems).
  public var ftraceFormats: [[UInt8]] = []
  public var systems: [System] = []
  public var kallsyms: [UInt8] = []
  public var printkFormats: [UInt8] = []
  public var savedCmdlines: [UInt8] = []

  public init() {}

  static let magic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)

  /// The tracing data for the tracepoint events among `events`, read from tracefs, or nil if none of the
  /// events is a tracepoint or tracefs is missing. Each event's format file is found from its
  /// `system:event` name and checked against the attr's config (the tracepoint id); an event whose name
  /// does not lead to its id is looked up by id among every tracepoint.
  public static func collect(for events: [PerfDataEvent]) -> TracingData? {
    let tracepoints = events.filter { $0.attributes.type == PERF_TYPE_TRACEPOINT.rawValue }
    guard !tracepoints.isEmpty, let root = TraceFS.root else { return nil }
    var data = TracingData()
    data.pageSize = UInt32(max(4096, sysconf(Int32(_SC_PAGESIZE))))
    data.headerPage = readFileBytes("\(root)/events/header_page") ?? []
    data.headerEvent = readFileBytes("\(root)/events/header_event") ?? []
    var seen = Set<UInt64>()
    for event in tracepoints where seen.insert(event.attributes.config).inserted {
      guard let (system, format) = formatFile(root: root, name: event.name, id: event.attributes.config) else {
        continue
      }
      if system == "ftrace" {
        data.ftraceFormats.append(format)
      } else if let i = data.systems.firstIndex(where: { $0.name == system }) {
        data.systems[i].formats.append(format)
      } else {
        data.systems.append(System(name: system, formats: [format]))
      }
    }
    data.printkFormats = readFileBytes("\(root)/printk_formats") ?? []
    data.savedCmdlines = readFileBytes("\(root)/saved_cmdlines") ?? []
    return data
  }

  /// The subsystem and `format` bytes of tracepoint `id`, preferring the directory `name` points at.
  static func formatFile(root: String, name: String, id: UInt64) -> (String, [UInt8])? {
    func matches(_ system: String, _ event: String) -> [UInt8]? {
      let dir = "\(root)/events/\(system)/\(event)"
      guard let text = readSmallFile("\(dir)/id"), UInt64(text.trimmingWhitespace()) == id else { return nil }
      return readFileBytes("\(dir)/format")
    }
    let parts = name.split(separator: ":").map(String.init)
    if parts.count >= 2, !parts[0].contains("/"), !parts[1].contains("/"), let f = matches(parts[0], parts[1]) {
      return (parts[0], f)
    }
    for system in TraceFS.subsystems() {
      for event in TraceFS.events(in: system) {
        if let f = matches(system, event) { return (system, f) }
      }
    }
    return nil
  }

  /// The feature section's bytes.
  public var encoded: [UInt8] {
    var w = ByteWriter(capacity: 4096)
    w.append(Self.magic)
    w.append(Array(version.utf8) + [0])
    w.u8(bigEndian ? 1 : 0)
    w.u8(longSize)
    w.u32(pageSize)
    w.append(Array("header_page".utf8) + [0])
    w.u64(UInt64(headerPage.count))
    w.append(headerPage)
    w.append(Array("header_event".utf8) + [0])
    w.u64(UInt64(headerEvent.count))
    w.append(headerEvent)
    w.u32(UInt32(ftraceFormats.count))
    for f in ftraceFormats {
      w.u64(UInt64(f.count))
      w.append(f)
    }
    w.u32(UInt32(systems.count))
    for s in systems {
      w.append(Array(s.name.utf8) + [0])
      w.u32(UInt32(s.formats.count))
      for f in s.formats {
        w.u64(UInt64(f.count))
        w.append(f)
      }
    }
    w.u32(UInt32(kallsyms.count))
    w.append(kallsyms)
    w.u32(UInt32(printkFormats.count))
    w.append(printkFormats)
    w.u64(UInt64(savedCmdlines.count))
    w.append(savedCmdlines)
    return w.bytes
  }

  /// Parses a feature section written by perf or Sonde (little-endian files only).
  public static func decode(_ bytes: [UInt8]) throws(RecordDecodeError) -> TracingData {
    var data = TracingData()
    var offset = 0
    func fail(_ reason: String) -> RecordDecodeError { RecordDecodeError(offset: offset, reason: reason) }
    func take(_ n: Int, _ what: String) throws(RecordDecodeError) -> [UInt8] {
      guard n >= 0, n <= bytes.count - offset else {
        throw fail("\(what) needs \(n) bytes but only \(bytes.count - offset) remain")
      }
      defer { offset += n }
      return Array(bytes[offset..<offset + n])
    }
    func integer(_ n: Int, _ what: String) throws(RecordDecodeError) -> UInt64 {
      try take(n, what).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
    func cString(_ what: String) throws(RecordDecodeError) -> String {
      guard let end = bytes[offset...].firstIndex(of: 0) else { throw fail("\(what) is not NUL-terminated") }
      let s = String(decoding: bytes[offset..<end], as: UTF8.self)
      offset = end + 1
      return s
    }
    func sized(_ width: Int, _ what: String) throws(RecordDecodeError) -> [UInt8] {
      let n = try integer(width, what)
      guard n <= UInt64(bytes.count - offset) else { throw fail("\(what) claims \(n) bytes") }
      return try take(Int(n), what)
    }
    guard try take(10, "tracing magic") == magic else { throw fail("not tracing data (bad magic)") }
    data.version = try cString("version")
    data.bigEndian = try take(1, "endianness")[0] != 0
    guard !data.bigEndian else { throw fail("big-endian tracing data is not supported") }
    data.longSize = try take(1, "long size")[0]
    data.pageSize = UInt32(try integer(4, "page size"))
    guard try cString("header_page tag") == "header_page" else { throw fail("missing header_page") }
    data.headerPage = try sized(8, "header_page")
    guard try cString("header_event tag") == "header_event" else { throw fail("missing header_event") }
    data.headerEvent = try sized(8, "header_event")
    let ftraceCount = try integer(4, "ftrace format count")
    for _ in 0..<min(ftraceCount, UInt64(bytes.count)) { data.ftraceFormats.append(try sized(8, "ftrace format")) }
    let systemCount = try integer(4, "system count")
    for _ in 0..<min(systemCount, UInt64(bytes.count)) {
      var system = System(name: try cString("system name"), formats: [])
      let count = try integer(4, "event count")
      for _ in 0..<min(count, UInt64(bytes.count)) { system.formats.append(try sized(8, "event format")) }
      data.systems.append(system)
    }
    data.kallsyms = try sized(4, "kallsyms")
    data.printkFormats = try sized(4, "printk formats")
    if (Double(data.version) ?? 0) >= 0.6 { data.savedCmdlines = try sized(8, "saved cmdlines") }
    return data
  }
}
