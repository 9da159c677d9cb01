import PerfEvents
import Symbols

/// Build ids of the binaries samples hit, for the HEADER_BUILD_ID feature (so a later report can check it
/// symbolizes the very same binaries). Found after recording by one pass over the file just written, as
/// perf does: the recording loop itself only copies records.
enum BuildIDCollector {
  /// Entries for every binary a user-mode sample of the file at `path` hit, whose build id can be read from
  /// the binary itself (a wrong one would make perf reject its symbols, so unreadable ones are left out);
  /// the file's records (all, and SAMPLE, LOST, LOST_SAMPLES, THROTTLE) are counted into `counts` in the
  /// same pass. Nil when the file cannot be read.
  static func entries(ofFile path: String, counting counts: inout RecordResult) -> [BuildIDEntry]? {
    guard let file = try? PerfDataFile(path: path) else { return nil }
    let decoder = file.decoder
    var mappings: [UInt32: [MmapRecord]] = [:]
    var hit = Set<String>()
    // Per process, the mapping the last sample hit: consecutive samples mostly land in the same binary.
    var lastHit: [UInt32: MmapRecord] = [:]
    _ = try? file.forEachRecord { offset, bytes in
      Recorder.count(bytes, into: &counts)
      counts.records += 1
      let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
      let misc = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
      if type == RecordType.mmap || type == RecordType.mmap2 {
        switch try decoder.decode(bytes, base: offset).body {
        case .mmap(let m), .mmap2(let m):
          if m.filename.hasPrefix("/") {
            mappings[m.pid, default: []].append(m)
            lastHit[m.pid] = nil
          }
        default: break
        }
      } else if type == RecordType.sample && misc & RecordMisc.cpumodeMask == RecordMisc.user {
        try decoder.withSampleView(bytes, base: offset) { s in
          let pid = s.head.pid
          let ip = s.head.ip
          if let m = lastHit[pid], m.address <= ip, ip < m.address &+ m.length { return }
          guard let m = mappings[pid]?.last(where: { $0.address <= ip && ip < $0.address &+ $0.length }) else {
            return
          }
          lastHit[pid] = m
          hit.insert(m.filename)
        }
      }
    }
    return hit.sorted().compactMap { path in
      guard let elf = try? ELFFile.open(path: path), let id = elf.buildID, !id.isEmpty else { return nil }
      return BuildIDEntry(pid: -1, cpumode: RecordMisc.user, buildID: id, filename: path)
    }
  }
}
