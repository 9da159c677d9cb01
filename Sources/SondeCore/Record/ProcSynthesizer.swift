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
    guard let text = readSmallFile("/proc/kallsyms") else { return nil }
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ")
      if parts.count >= 3, parts[2] == "_text" { return UInt64(parts[0], radix: 16) }
    }
    return nil
  }
}
