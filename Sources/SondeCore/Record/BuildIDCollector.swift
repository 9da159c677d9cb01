import PerfEvents
import Symbols

/// Build ids of the binaries samples hit, for the HEADER_BUILD_ID feature (as perf writes them after
/// a recording, so a later report can check it symbolizes the very same binaries).
enum BuildIDCollector {
  static func collect(records: [[UInt8]], decoder: RecordDecoder) -> [BuildIDEntry] {
    var mappings: [UInt32: [MmapRecord]] = [:]
    var hit = Set<String>()
    for bytes in records {
      guard let record = try? bytes.withUnsafeBytes({ try decoder.decode($0) }) else { continue }
      switch record.body {
      case .mmap(let m), .mmap2(let m):
        if m.filename.hasPrefix("/") { mappings[m.pid, default: []].append(m) }
      case .sample(let s):
        let user = record.misc & RecordMisc.cpumodeMask == RecordMisc.user
        guard user, let m = mappings[s.pid]?.last(where: { $0.address <= s.ip && s.ip < $0.address &+ $0.length })
        else { continue }
        hit.insert(m.filename)
      default: break
      }
    }
    var out: [BuildIDEntry] = []
    for path in hit.sorted() {
      // Only a build id read from the file itself is written: a wrong one would make perf reject it.
      guard let elf = try? ELFFile.open(path: path), let id = elf.buildID, !id.isEmpty else { continue }
      out.append(BuildIDEntry(pid: -1, cpumode: RecordMisc.user, buildID: id, filename: path))
    }
    return out
  }
}
