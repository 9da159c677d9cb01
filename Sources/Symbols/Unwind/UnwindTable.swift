import SondeSystem

/// Compact unwind rules for one ELF image (x86-64 only), compiled from its call-frame information
/// (`.eh_frame`, and `.debug_frame` when present): rows sorted by address, each giving the rule from its
/// address up to the next row.
///
/// This is what an unwinder needs when code has no frame pointers (Swift -O, Debian's libc): the same rows
/// serve the user-space unwinder for perf's `--call-graph dwarf` samples and, deduplicated into rule indices,
/// a BPF unwinder's maps. Addresses are the ELF's own virtual addresses: add the load bias to compare with
/// a process's addresses. Damaged FDEs are skipped and counted in `stats`; only damage that hides the rest of
/// a section (a record length running past it) fails the build.
public struct UnwindTable: Sendable, Hashable {
  /// Why an FDE was left out of the table.
  public enum SkipReason: String, Sendable, Hashable, CaseIterable {
    /// Its CIE is unreadable, has an unknown version or an augmentation that cannot be skipped ("eh").
    case malformedCIE
    /// Its own fields are truncated, or its CIE pointer leads nowhere.
    case malformedFDE
    /// An indirect FDE address, or an encoding relative to an unknown base.
    case unsupportedEncoding
    /// It covers no addresses.
    case emptyRange
    /// Its program uses an opcode this interpreter does not know.
    case unknownOpcode
    /// Its program is truncated, restores a state never remembered, or its offsets overflow.
    case malformedInstructions
    /// Its program exceeds the instruction or remembered-state bounds.
    case limitExceeded
    /// It overlaps an FDE that starts earlier (or an `.eh_frame` FDE at the same address).
    case overlapping
    /// It starts outside every executable segment (e.g. a `.debug_frame` FDE of discarded code).
    case outsideCode
  }

  /// What building the table found.
  public struct Stats: Sendable, Hashable {
    /// CIEs decoded successfully.
    public var cies = 0
    /// FDEs found in the sections.
    public var fdesRead = 0
    /// FDEs whose rows are in the table.
    public var fdesUsed = 0
    /// FDEs left out, by reason.
    public var fdesSkipped: [SkipReason: Int] = [:]
    /// Rows in the table, gap rows included.
    public var rows = 0
    /// Distinct rules among the rows.
    public var uniqueRules = 0
    /// Rows whose rule has an unsupported part (CFA, rbp or return address).
    public var unsupportedRows = 0
    /// Rows that mark the outermost frame.
    public var endOfStackRows = 0

    public init() {}

    /// All skipped FDEs.
    public var skippedTotal: Int { fdesSkipped.values.reduce(0, +) }
  }

  /// The rows, sorted by address, with consecutive identical rules merged.
  public private(set) var rows: [UnwindRow]
  public var stats: Stats

  /// A table over `rows` (sorted by address here; equal addresses keep their order, the last one wins in
  /// `lookup`). Counts in `stats` other than the row counts are zero.
  public init(rows: [UnwindRow]) {
    var sorted = rows.enumerated().sorted { ($0.element.address, $0.offset) < ($1.element.address, $1.offset) }
      .map(\.element)
    // Keep only the last row at each address, as lookup would see it.
    sorted = sorted.indices.filter { $0 + 1 == sorted.count || sorted[$0 + 1].address != sorted[$0].address }
      .map { sorted[$0] }
    self.rows = sorted
    stats = Stats()
    stats.count(sorted)
  }

  private init(rows: [UnwindRow], stats: Stats) {
    self.rows = rows
    self.stats = stats
    self.stats.count(rows)
  }

  public var isEmpty: Bool { rows.isEmpty }

  /// The rule for ELF virtual address `address`, or nil when no FDE covers it.
  public func lookup(_ address: UInt64) -> UnwindRule? {
    var low = 0
    var high = rows.count
    while low < high {
      let middle = low + (high - low) / 2
      if rows[middle].address <= address { low = middle + 1 } else { high = middle }
    }
    return low == 0 ? nil : rows[low - 1].rule
  }

  /// Builds the table for an x86-64 ELF image from its `.eh_frame` and, when present and uncompressed, its
  /// `.debug_frame` (where both describe an address, `.eh_frame` wins). An image without either gives an
  /// empty table. FDEs that start outside the executable segments are skipped.
  public static func build(from elf: ELFFile) throws(SondeError) -> UnwindTable {
    guard elf.header.machine == 62, elf.header.is64Bit, !elf.header.isBigEndian else {
      throw SondeError.invalid(
        "build unwind table for \(elf.path)",
        "call-frame unwinding supports x86-64 only (e_machine \(elf.header.machine))")
    }
    let text = elf.section(named: ".text")?.address
    let got = elf.section(named: ".got")?.address
    var sections: [FrameSection] = []
    for kind in [FrameSectionKind.ehFrame, .debugFrame] {
      guard let section = elf.section(named: kind.rawValue), section.type != ELFSection.SHT_NOBITS, section.size > 0,
        section.flags & 0x800 == 0  // SHF_COMPRESSED: not inflated here
      else { continue }
      var bytes: [UInt8]
      do throws(SondeError) {
        bytes = try elf.contents(of: section)
      } catch {
        var named = error
        named.operation = "read \(kind.rawValue) of \(elf.path)"
        throw named
      }
      sections.append(
        FrameSection(bytes: bytes, kind: kind, bases: PointerBases(section: section.address, text: text, data: got)))
    }
    let code = elf.loadSegments.filter(\.isExecutable).map { $0.virtualAddress..<($0.virtualAddress &+ $0.memorySize) }
    do throws(SondeError) {
      return try build(sections: sections, code: code.isEmpty ? nil : code)
    } catch {
      var named = error
      named.operation += " of \(elf.path)"
      throw named
    }
  }

  /// Builds a table from the bytes of one call-frame section loaded at virtual address `address` (needed for
  /// pc-relative encodings). `textAddress` and `dataAddress` are the bases for text- and data-relative
  /// encodings, when known.
  public static func build(
    frameSection bytes: [UInt8], kind: FrameSectionKind, address: UInt64, textAddress: UInt64? = nil,
    dataAddress: UInt64? = nil
  ) throws(SondeError) -> UnwindTable {
    try build(
      sections: [
        FrameSection(
          bytes: bytes, kind: kind, bases: PointerBases(section: address, text: textAddress, data: dataAddress))
      ], code: nil)
  }

  struct FrameSection {
    var bytes: [UInt8]
    var kind: FrameSectionKind
    var bases: PointerBases
  }

  /// The rows of one FDE and the range it covers.
  private struct Span {
    var start: UInt64
    var end: UInt64
    var priority: Int
    var rows: [UnwindRow]
  }

  /// Parses each section, runs every FDE's program, then lays the FDEs out by address: overlapping ones
  /// are dropped (the earlier start wins, then the earlier section), and a gap row closes each FDE unless the
  /// next one starts where it ends.
  static func build(sections: [FrameSection], code: [Range<UInt64>]?) throws(SondeError) -> UnwindTable {
    var stats = Stats()
    var spans: [Span] = []
    for (priority, section) in sections.enumerated() {
      let parsed = try EhFrameParser(bytes: section.bytes, kind: section.kind, bases: section.bases).parse()
      stats.cies += parsed.cies.count
      stats.fdesRead += parsed.fdesRead
      stats.fdesSkipped.merge(parsed.skipped, uniquingKeysWith: +)
      var initialStates: [Int: Result<CFIInterpreter.State, CFIError>] = [:]
      for fde in parsed.fdes {
        if let code, !code.contains(where: { $0.contains(fde.start) }) {
          stats.fdesSkipped[.outsideCode, default: 0] += 1
          continue
        }
        guard let cie = parsed.cies[fde.cieOffset] else {  // not expected: the parser checked the CIE
          stats.fdesSkipped[.malformedCIE, default: 0] += 1
          continue
        }
        let interpreter = CFIInterpreter(bytes: section.bytes, cie: cie, bases: section.bases)
        do throws(CFIError) {
          // The CIE's program runs once; every FDE of that CIE starts from its result.
          let initial: CFIInterpreter.State
          if let cached = initialStates[fde.cieOffset] {
            initial = try cached.get()
          } else {
            let result = Result { () throws(CFIError) in try interpreter.initialState() }
            initialStates[fde.cieOffset] = result
            initial = try result.get()
          }
          spans.append(
            Span(
              start: fde.start, end: fde.end, priority: priority,
              rows: try interpreter.rows(for: fde, initial: initial)))
        } catch {
          stats.fdesSkipped[error.reason, default: 0] += 1
        }
      }
    }
    spans.sort { ($0.start, $0.priority) < ($1.start, $1.priority) }
    var rows: [UnwindRow] = []
    var coveredEnd: UInt64?
    for span in spans {
      if let coveredEnd, span.start < coveredEnd {
        stats.fdesSkipped[.overlapping, default: 0] += 1
        continue
      }
      if let last = rows.last, last.rule == nil, last.address == span.start { rows.removeLast() }
      for row in span.rows where rows.last?.rule != row.rule { rows.append(row) }
      rows.append(UnwindRow(address: span.end, rule: nil))
      coveredEnd = span.end
      stats.fdesUsed += 1
    }
    return UnwindTable(rows: rows, stats: stats)
  }
}

extension UnwindTable.Stats {
  /// Sets the row counts from `rows`.
  fileprivate mutating func count(_ rows: [UnwindRow]) {
    self.rows = rows.count
    var unique = Set<UnwindRule>()
    unsupportedRows = 0
    endOfStackRows = 0
    for case let rule? in rows.map(\.rule) {
      unique.insert(rule)
      if rule.isEndOfStack { endOfStackRows += 1 } else if rule.hasUnsupportedPart { unsupportedRows += 1 }
    }
    uniqueRules = unique.count
  }
}
