import Foundation
import SondeTestSupport

@testable import Symbols

/// The oracle for unwind tables: `readelf --debug-dump=frames-interp`, parsed into FDEs and their rows
/// (LOC, CFA, rbp, ra as readelf prints them: `rsp+8`, `rbp+16`, `exp`, `u`, `c-16`).
struct ReadelfFrames {
  struct Row {
    var location: UInt64
    var cfa: String
    var rbp: String
    var returnAddress: String
  }

  struct Entry {
    var section: String
    var start: UInt64
    var end: UInt64
    /// The rows readelf printed; empty when the FDE's program is all DW_CFA_nop (readelf prints nothing).
    var rows: [Row]
    /// The CIE's initial row, which is the whole story for an FDE with no rows.
    var cieRow: Row?
  }

  var entries: [Entry] = []

  /// Runs readelf on `path` and parses its output.
  static func load(_ path: String) throws -> ReadelfFrames {
    guard let readelf = TestSupport.tool("readelf") else {
      throw Support.FixtureError(message: "readelf not installed (apt-get install binutils)")
    }
    let output = try TestSupport.run(readelf, ["--debug-dump=frames-interp", path])
    // readelf exits 1 on files without DWARF debug sections (Debian's libc) after printing the frames.
    guard output.status == 0 || output.stdout.contains("Contents of the .eh_frame") else {
      throw Support.FixtureError(message: "readelf failed (\(output.status)): \(output.stderr)")
    }
    return parse(output.stdout)
  }

  static func parse(_ text: String) -> ReadelfFrames {
    var result = ReadelfFrames()
    var section = ""
    var columns: [Substring] = []
    var cieRows: [String: Row] = [:]
    var currentCIE: String?
    var current: Entry?
    func finish() {
      if let entry = current { result.entries.append(entry) }
      current = nil
      currentCIE = nil
      columns = []
    }
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.hasPrefix("Contents of the ") {
        finish()
        section = String(line.split(separator: " ")[3])
        continue
      }
      let fields = line.split(separator: " ")
      if fields.count >= 4, fields[3] == "CIE" {
        finish()
        currentCIE = section + String(fields[0])
      } else if fields.count >= 6, fields[3] == "FDE", let pc = fields.first(where: { $0.hasPrefix("pc=") }),
        let cie = fields.first(where: { $0.hasPrefix("cie=") })
      {
        finish()
        let bounds = pc.dropFirst(3).split(separator: ".", omittingEmptySubsequences: true)
        guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16)
        else { continue }
        current = Entry(
          section: section, start: start, end: end, rows: [], cieRow: cieRows[section + String(cie.dropFirst(4))])
      } else if fields.first == "LOC" {
        columns = fields
      } else if !columns.isEmpty, fields.count == columns.count, let location = UInt64(fields[0], radix: 16) {
        func column(_ name: Substring) -> String { columns.firstIndex(of: name).map { String(fields[$0]) } ?? "u" }
        let row = Row(location: location, cfa: column("CFA"), rbp: column("rbp"), returnAddress: column("ra"))
        if current != nil {
          current?.rows.append(row)
        } else if let cie = currentCIE, cieRows[cie] == nil {
          cieRows[cie] = row
        }
      }
    }
    finish()
    return result
  }

  /// Whether `rule` says what readelf's row says. readelf's `u` for rbp covers both "no rule" (our
  /// `sameValue`) and DW_CFA_undefined; its `exp` CFA is our PLT expression or `unsupported`.
  static func agrees(_ rule: UnwindRule?, with row: Row) -> Bool {
    guard let rule else { return false }
    let cfaMatches: Bool
    switch rule.cfa {
    case .rspOffset(let offset): cfaMatches = row.cfa == "rsp" + signed(offset)
    case .rbpOffset(let offset): cfaMatches = row.cfa == "rbp" + signed(offset)
    case .pltExpression: cfaMatches = row.cfa == "exp"
    case .unsupported: cfaMatches = !row.cfa.hasPrefix("rsp") && !row.cfa.hasPrefix("rbp")
    }
    let rbpMatches: Bool
    switch rule.rbp {
    case .sameValue: rbpMatches = row.rbp == "u" || row.rbp == "s"
    case .undefined: rbpMatches = row.rbp == "u"
    case .offset(let offset): rbpMatches = row.rbp == "c" + signed(offset)
    case .unsupported: rbpMatches = !["u", "s"].contains(row.rbp) && !row.rbp.hasPrefix("c")
    }
    let returnMatches: Bool
    switch rule.returnAddress {
    case .offset(let offset): returnMatches = row.returnAddress == "c" + signed(offset)
    case .endOfStack: returnMatches = row.returnAddress == "u"
    case .unsupported: returnMatches = row.returnAddress != "u" && !row.returnAddress.hasPrefix("c")
    }
    return cfaMatches && rbpMatches && returnMatches
  }

  private static func signed(_ value: Int32) -> String { value < 0 ? "\(value)" : "+\(value)" }

  /// Compares `table` with every row readelf printed (and with the CIE's row for FDEs readelf shows no rows
  /// for), and checks that the first address past an FDE not followed by another has no rule. Returns the
  /// disagreements as text, at most `limit` of them, and how many rows were compared.
  func disagreements(with table: UnwindTable, limit: Int = 20) -> (mismatches: [String], compared: Int) {
    var mismatches: [String] = []
    var compared = 0
    let starts = Set(entries.map(\.start))
    func note(_ text: String) { if mismatches.count < limit { mismatches.append(text) } }
    for entry in entries where entry.end > entry.start {
      let rows =
        entry.rows.isEmpty
        ? entry.cieRow.map { [Row(location: entry.start, cfa: $0.cfa, rbp: $0.rbp, returnAddress: $0.returnAddress)] }
          ?? [] : entry.rows
      for row in rows where row.location >= entry.start && row.location < entry.end {
        compared += 1
        let rule = table.lookup(row.location)
        if !Self.agrees(rule, with: row) {
          note(
            "\(entry.section) 0x\(String(row.location, radix: 16)): readelf \(row.cfa) rbp=\(row.rbp) "
              + "ra=\(row.returnAddress), table \(rule.map { "\($0)" } ?? "nil")")
        }
      }
      if !starts.contains(entry.end), table.lookup(entry.end) != nil {
        note("0x\(String(entry.end, radix: 16)) past the FDE ending there has a rule")
      }
    }
    return (mismatches, compared)
  }
}
