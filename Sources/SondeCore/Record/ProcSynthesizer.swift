import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Synthesizes the side-band records for tasks that already run (their COMM and executable MMAP2s),
/// and the kernel's own mapping, from /proc — what `perf record` does so samples of existing targets
/// can be symbolized.
enum ProcSynthesizer {
  /// COMM for every thread of `pid`, and MMAP2 for each executable mapping.
  static func records(forProcess pid: Int32, layout: SampleLayout) -> [[UInt8]] {
    var out: [[UInt8]] = []
    for tid in (try? threads(ofProcess: pid)) ?? [pid] {
      guard let comm = readSmallFile("/proc/\(pid)/task/\(tid)/comm")?.trimmingWhitespace() else { continue }
      let record = PerfRecord(
        type: RecordType.comm, body: .comm(CommRecord(pid: UInt32(pid), tid: UInt32(tid), comm: comm)))
      out.append(record.encode(layout: layout))
    }
    guard let maps = readSmallFile("/proc/\(pid)/maps") else { return out }
    for line in maps.split(separator: "\n") {
      guard let m = parseMapsLine(line, pid: pid) else { continue }
      out.append(PerfRecord(type: RecordType.mmap2, misc: RecordMisc.user, body: .mmap2(m)).encode(layout: layout))
    }
    return out
  }

  /// Parses "start-end perms offset maj:min inode path" for executable mappings.
  static func parseMapsLine(_ line: Substring, pid: Int32) -> MmapRecord? {
    let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
    guard fields.count >= 5 else { return nil }
    let perms = Array(fields[1])
    guard perms.count == 4, perms[2] == "x" else { return nil }
    let range = fields[0].split(separator: "-")
    guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
      let offset = UInt64(fields[2], radix: 16)
    else { return nil }
    let dev = fields[3].split(separator: ":")
    let path = fields.count == 6 ? fields[5].trimmingWhitespace() : "//anon"
    var m = MmapRecord(
      pid: UInt32(pid), tid: UInt32(pid), address: start, length: end - start, pageOffset: offset, filename: path)
    if dev.count == 2 {
      m.major = UInt32(dev[0], radix: 16) ?? 0
      m.minor = UInt32(dev[1], radix: 16) ?? 0
    }
    m.inode = UInt64(fields[4]) ?? 0
    m.protection =
      UInt32(PROT_EXEC) | (perms[0] == "r" ? UInt32(PROT_READ) : 0) | (perms[1] == "w" ? UInt32(PROT_WRITE) : 0)
    m.flags = perms[3] == "s" ? UInt32(MAP_SHARED) : UInt32(MAP_PRIVATE)
    return m
  }

  /// The kernel text mapping perf calls "[kernel.kallsyms]_text": from _text to the top of the address
  /// space, pgoff = _text so perf can relocate kallsyms. Nil when kallsyms hides addresses.
  static func kernelMapping(layout: SampleLayout) -> [UInt8]? {
    guard let text = kernelTextAddress(), text != 0 else { return nil }
    let m = MmapRecord(
      pid: UInt32(bitPattern: -1), tid: 0, address: text, length: UInt64.max - text, pageOffset: text,
      filename: "[kernel.kallsyms]_text")
    return PerfRecord(type: RecordType.mmap, misc: RecordMisc.kernel, body: .mmap(m)).encode(layout: layout)
  }

  static func kernelTextAddress() -> UInt64? {
    // `_text` is near the top of kallsyms: read it a chunk at a time and stop there (the whole file is
    // megabytes, and every recording synthesizes the kernel map before it samples).
    guard let fd = try? FileDescriptor.open("/proc/kallsyms", O_RDONLY) else { return nil }
    var pending: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while let n = try? fd.read(into: &chunk, range: 0..<chunk.count), n > 0 {
      pending += chunk[0..<n]
      var start = 0
      while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
        let fields = pending[start..<newline].split(separator: UInt8(ascii: " "))
        if fields.count >= 3, fields[2].elementsEqual("_text".utf8) {
          return UInt64(String(decoding: fields[0], as: UTF8.self), radix: 16)
        }
        start = newline + 1
      }
      pending.removeSubrange(..<start)
    }
    return nil
  }
}
