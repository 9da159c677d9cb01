import SondeTestSupport
import Testing

@testable import SondeBPFEngines

/// The page index the in-kernel unwinder narrows its row search with (unwind.h's find_row): searching only
/// the rows a page's entries bound must find the same row as searching them all, for every address.
@Suite struct UnwindPageIndexTests {
  /// The last row at or before `address` in rows[lo, hi), or nil: find_row's search.
  func search(_ rows: [UInt64], _ address: UInt64, lo: Int, hi: Int) -> Int? {
    var (lo, hi) = (lo, hi)
    while lo + 1 < hi {
      let mid = lo + (hi - lo) / 2
      if rows[mid] <= address { lo = mid } else { hi = mid }
    }
    return rows[lo] <= address ? lo : nil
  }

  /// find_row with the index: the bounds of the address's page, then the same search.
  func indexedSearch(_ rows: [UInt64], _ index: (base: UInt64, entries: [UInt32]), _ address: UInt64) -> Int? {
    var (lo, hi) = (0, rows.count)
    if address >= index.base {
      let page = Int((address - index.base) >> 12)
      if page < index.entries.count {
        lo = Int(index.entries[page])
        if page + 1 < index.entries.count, Int(index.entries[page + 1]) + 1 > lo {
          hi = Int(index.entries[page + 1]) + 1
        }
      }
    }
    return search(rows, address, lo: lo, hi: hi)
  }

  @Test(arguments: [1, 7, 300, 5000]) func everyAddressFindsTheSameRowThroughTheIndex(rowCount: Int) throws {
    var generator = SeededGenerator(seed: UInt64(rowCount))
    // Rows a few bytes to a few pages apart, as FDEs of small and large functions are.
    var address: UInt64 = 0x40_1000 + UInt64.random(in: 0..<4096, using: &generator)
    var rows: [UInt64] = []
    for _ in 0..<rowCount {
      rows.append(address)
      address += UInt64.random(
        in: 1...(UInt64.random(in: 0..<8, using: &generator) == 0 ? 9000 : 200), using: &generator)
    }
    let index = try #require(UnwindTableLoader.pageIndex(of: rows))
    #expect(index.base == rows[0] & ~0xfff)
    #expect(index.entries.count == Int((rows.last! - index.base) >> 12) + 1)
    var probes = rows.flatMap { [$0 &- 1, $0, $0 + 1] } + [index.base, rows.last! + 5000]
    for _ in 0..<2000 { probes.append(UInt64.random(in: index.base...(rows.last! + 4096), using: &generator)) }
    for p in probes {
      #expect(indexedSearch(rows, index, p) == search(rows, p, lo: 0, hi: rows.count), "address \(p)")
    }
  }

  /// Sparse code (rows farther apart than four pages a row on average) gets no index, and the walk searches
  /// every row instead.
  @Test func sparseRowsGetNoIndex() {
    #expect(UnwindTableLoader.pageIndex(of: [0x1000, 0x100_0000]) == nil)
    #expect(UnwindTableLoader.pageIndex(of: []) == nil)
  }
}
