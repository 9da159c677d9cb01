import BPF
import Profiles
import SondeBPFTypes
import SondeSystem
import Symbols

#if canImport(Glibc)
  import Glibc
#endif

/// Loads call-frame unwind tables into the profiler's BPF maps (`--unwind dwarf`): each binary's rows once,
/// into the shared `unwind_rows` array (they stay there for the run, shared by every process that maps the
/// binary), and each process's executable mappings with their load bias and row range into
/// `unwind_processes`, when the process is first captured. What did not fit (the rows array full, more
/// than SONDE_UNWIND_MAPPINGS mappings) and what could not be read is counted; those frames fall back to
/// frame pointers in the kernel.
final class UnwindTableLoader {
  /// What loading did over the run, for verbose output and the accounting.
  struct Stats: Sendable {
    var binaries = 0
    var rows = 0
    var seconds = 0.0
    /// Binaries whose rows did not fit in the array, or that had no readable table.
    var rowsFull = 0
    var failed: [String: String] = [:]
    /// Mappings past SONDE_UNWIND_MAPPINGS per process.
    var mappingsDropped = 0
    /// Processes whose mapping list could not be written: they unwind by frame pointers.
    var processFailures = 0
  }

  private(set) var stats = Stats()
  private let rows: BPFMap<UInt32, sonde_unwind_row>
  private let pages: BPFMap<UInt32, UInt32>
  private let processes: BPFMap<UInt32, sonde_unwind_process>
  /// Rows the `unwind_rows` array holds, and how many are written.
  let capacity: UInt32
  private(set) var rowsUsed: UInt32 = 0
  /// Entries the `unwind_pages` array holds, and how many are written.
  let pageCapacity: UInt32
  private var pagesUsed: UInt32 = 0
  /// Mappings each process's latest list left out (a list is republished as binaries load: the latest counts).
  private var lastDropped: [Int32: Int] = [:]

  /// A binary's rows and page index in the maps, and its ELF image (for the bias).
  private struct LoadedBinary {
    var rowStart: UInt32
    var rowCount: UInt32
    var pageBase: UInt64 = 0
    var pageStart: UInt32 = 0
    /// 0: no page index (the pages array was full): the walk searches all the binary's rows.
    var pageCount: UInt32 = 0
    var elf: ELFFile
  }
  /// Each binary by path, nil when it has no table.
  private var binaries: [String: LoadedBinary?] = [:]

  init(object: BPFObject, capacity: UInt32, pageCapacity: UInt32) throws(SondeError) {
    rows = try object.map("unwind_rows")
    pages = try object.map("unwind_pages")
    processes = try object.map("unwind_processes")
    self.capacity = capacity
    self.pageCapacity = pageCapacity
  }

  /// Loads the tables of `pid`'s executable file mappings and publishes the process's mapping list. Binaries
  /// not loaded yet are loaded smallest first, and the list is published again after each, so the program
  /// and libc (where most frames are) unwind while a large runtime library is still being read.
  /// A process whose list cannot be written is counted, not fatal: its frames fall back to frame pointers.
  func load(pid: Int32, mappings: [Profile.Mapping]) {
    let files = mappings.filter { $0.pid == pid && $0.path.hasPrefix("/") }
    let pending = Set(files.map(\.path)).filter { binaries[$0] == nil }.sorted { fileSize($0) < fileSize($1) }
    do throws(SondeError) {
      var published = false
      for path in pending {
        _ = binary(path)
        try publish(pid: pid, files)
        published = true
      }
      if !published { try publish(pid: pid, files) }
    } catch {
      stats.processFailures += 1
    }
  }

  /// Writes `pid`'s entry: each mapping whose binary's rows are loaded, with its bias and row range.
  private func publish(pid: Int32, _ files: [Profile.Mapping]) throws(SondeError) {
    var entries: [sonde_unwind_mapping] = []
    var dropped = 0
    for m in files {
      guard let known = binaries[m.path], let b = known, let vaddr = b.elf.virtualAddress(forFileOffset: m.fileOffset)
      else { continue }
      guard entries.count < Int(SONDE_UNWIND_MAPPINGS) else {
        dropped += 1
        continue
      }
      entries.append(
        sonde_unwind_mapping(
          start: m.start, end: m.end, bias: m.start &- vaddr, row_start: b.rowStart, row_count: b.rowCount,
          page_base: b.pageBase, page_start: b.pageStart, page_count: b.pageCount))
    }
    guard !entries.isEmpty else { return }
    var process = sonde_unwind_process()
    process.count = UInt32(entries.count)
    withUnsafeMutableBytes(of: &process.mappings) { raw in
      let slots = raw.bindMemory(to: sonde_unwind_mapping.self)
      for (i, entry) in entries.enumerated() { slots[i] = entry }
    }
    try processes.update(UInt32(bitPattern: pid), process)
    lastDropped[pid] = dropped
    stats.mappingsDropped = lastDropped.values.reduce(0, +)
  }

  private func fileSize(_ path: String) -> Int64 {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : Int64.max
  }

  /// The binary at `path` in the maps, its rows and page index written on first use.
  private func binary(_ path: String) -> LoadedBinary? {
    if let known = binaries[path] { return known }
    let began = monotonicSeconds()
    defer { stats.seconds += monotonicSeconds() - began }
    var result: LoadedBinary?
    do throws(SondeError) {
      let elf = try ELFFile.open(path: path)
      let table = try UnwindTable.build(from: elf)
      let encoded = table.rows.map(Self.encode)
      if encoded.isEmpty {
        stats.failed[path] = "no call-frame information"
      } else if UInt64(rowsUsed) + UInt64(encoded.count) > UInt64(capacity) {
        stats.rowsFull += 1
      } else {
        let start = rowsUsed
        try rows.updateBatch(keys: (0..<UInt32(encoded.count)).map { start + $0 }, values: encoded)
        rowsUsed += UInt32(encoded.count)
        stats.binaries += 1
        stats.rows += encoded.count
        var loaded = LoadedBinary(rowStart: start, rowCount: UInt32(encoded.count), elf: elf)
        // Without room for the index the binary still unwinds, by a search of all its rows.
        if let index = Self.pageIndex(of: encoded.map(\.address)),
          UInt64(pagesUsed) + UInt64(index.entries.count) <= UInt64(pageCapacity)
        {
          let first = pagesUsed
          try pages.updateBatch(keys: (0..<UInt32(index.entries.count)).map { first + $0 }, values: index.entries)
          pagesUsed += UInt32(index.entries.count)
          (loaded.pageBase, loaded.pageStart, loaded.pageCount) = (index.base, first, UInt32(index.entries.count))
        }
        result = loaded
      }
    } catch {
      stats.failed[path] = error.reason
    }
    binaries[path] = result
    return result
  }

  /// The page index of rows at `addresses` (sorted): for each 4 KiB page from the first row's page, the
  /// index of the last row at or before the page's first byte (0 before the first row). Nil when the rows
  /// span more pages than four per row (sparse code: the index would cost more than it saves).
  static func pageIndex(of addresses: [UInt64]) -> (base: UInt64, entries: [UInt32])? {
    guard let first = addresses.first, let last = addresses.last, last >= first else { return nil }
    let shift = UInt64(SONDE_UNWIND_PAGE_SHIFT)
    let base = (first >> shift) << shift
    let pageCount = (last - base) >> shift + 1
    guard pageCount <= UInt64(addresses.count) * 4, pageCount <= UInt64(UInt32.max) else { return nil }
    var entries = [UInt32](repeating: 0, count: Int(pageCount))
    var row = 0
    for page in 0..<Int(pageCount) {
      let pageStart = base + UInt64(page) << shift
      while row + 1 < addresses.count && addresses[row + 1] <= pageStart { row += 1 }
      entries[page] = UInt32(row)
    }
    return (base, entries)
  }

  /// A row as the BPF unwinder reads it. The return address must be at CFA - 8 (x86-64's call pushes it
  /// there); rules outside that model are marked unsupported and stop the walk there.
  static func encode(_ row: UnwindRow) -> sonde_unwind_row {
    var r = sonde_unwind_row()
    r.address = row.address
    guard let rule = row.rule else {
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_GAP.rawValue)
      return r
    }
    if rule.isEndOfStack {
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_END.rawValue)
      return r
    }
    guard rule.returnAddress == .offset(-8) else {
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_UNSUPPORTED.rawValue)
      return r
    }
    switch rule.cfa {
    case .rspOffset(let offset):
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_RSP.rawValue)
      r.cfa_offset = offset
    case .rbpOffset(let offset):
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_RBP.rawValue)
      r.cfa_offset = offset
    case .pltExpression(let threshold):
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_PLT.rawValue)
      r.cfa_offset = Int32(threshold)
    case .unsupported:
      r.cfa_kind = UInt8(SONDE_UNWIND_CFA_UNSUPPORTED.rawValue)
    }
    switch rule.rbp {
    case .sameValue:
      r.rbp_kind = UInt8(SONDE_UNWIND_RBP_SAME.rawValue)
    case .offset(let offset) where Int32(Int16.min)...Int32(Int16.max) ~= offset:
      r.rbp_kind = UInt8(SONDE_UNWIND_RBP_OFFSET.rawValue)
      r.rbp_offset = Int16(offset)
    case .offset, .undefined, .unsupported:
      r.rbp_kind = UInt8(SONDE_UNWIND_RBP_UNDEFINED.rawValue)
    }
    return r
  }
}
