import PerfEvents
import Symbols

/// Build ids of the binaries samples hit, for the HEADER_BUILD_ID feature (as perf writes them after
/// a recording, so a later report can check it symbolizes the very same binaries). Fed record by record
/// in time order.
struct BuildIDCollector {
  let decoder: RecordDecoder
  private var mappings: [UInt32: [MmapRecord]] = [:]
  private var hit = Set<String>()

  init(decoder: RecordDecoder) { self.decoder = decoder }

  mutating func observe(_ bytes: [UInt8]) {
    guard bytes.count >= 8 else { return }
    let type = UInt32(bytes[0]) | UInt32(bytes[1]) << 8
    guard type == RecordType.sample || type == RecordType.mmap || type == RecordType.mmap2 else { return }
    guard let record = try? bytes.withUnsafeBytes({ try decoder.decode($0) }) else { return }
    switch record.body {
    case .mmap(let m), .mmap2(let m):
      if m.filename.hasPrefix("/") { mappings[m.pid, default: []].append(m) }
    case .sample(let s):
      guard record.misc & RecordMisc.cpumodeMask == RecordMisc.user,
        let m = mappings[s.pid]?.last(where: { $0.address <= s.ip && s.ip < $0.address &+ $0.length })
      else { return }
      hit.insert(m.filename)
    default: break
    }
  }

  /// Entries for every hit binary whose build id can be read from the file itself (a wrong one would
  /// make perf reject the binary's symbols, so unreadable ones are left out).
  func entries() -> [BuildIDEntry] {
    hit.sorted().compactMap { path in
      guard let elf = try? ELFFile.open(path: path), let id = elf.buildID, !id.isEmpty else { return nil }
      return BuildIDEntry(pid: -1, cpumode: RecordMisc.user, buildID: id, filename: path)
    }
  }
}
