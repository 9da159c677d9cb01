import Foundation
import SondeTestSupport
import Testing

/// `sonde profile --unwind dwarf` (issue 15): the BPF program walks user stacks with the unwind rows Sonde
/// compiled from each binary's .eh_frame, so code without frame pointers shows its callers, in the kernel,
/// with no stack copied to user space (maps, ringbuf); the perf transport copies stacks and unwinds them in
/// user space with the same tables.
@Suite(.serialized)
struct DwarfProfileTests {
  static func profile(_ argv: [String], transport: String = "ringbuf") throws -> TestSupport.Output {
    try ToolRunner.run(
      [ToolRunner.sonde, "profile", "-F", "999", "--transport", transport, "--unwind", "dwarf", "--folded", "--"]
        + argv)
  }

  /// A Swift -O workload: ≥ 95% of its three leaves' samples read main → … → leaf, and the leaves' shares
  /// agree with `perf record --call-graph dwarf` of the same program within 3 points.
  @Test(arguments: ["maps", "ringbuf", "perf"])
  func swiftOptimizedStacksReachMainWithPerfsShares(transport: String) throws {
    let dir = try ToolRunner.tempDirectory("dwarf-profile-swift")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = try DwarfReportTests.buildSwiftShares(dir)
    let ours = try Self.profile([binary, "1500"], transport: transport)
    #expect(ours.status == 0, "\(ours.stderr)")
    #expect(ours.stderr.contains("dwarf unwinds ended:"), "\(ours.stderr)")
    let perfFile = dir + "/perf.data"
    try DwarfReportTests.record("perf", perfFile, [binary, "1500"])
    let theirs = try ToolRunner.run([ToolRunner.sonde, "report", "-i", perfFile, "--folded"])
    #expect(theirs.status == 0, "\(theirs.stderr)")

    let leaves = ["Matrix.reduce(rounds:)", "Matrix.transpose(rounds:)", "Checksum.fold(_:seed:)"]
    func leafIndex(_ frames: [Substring]) -> Int? {
      guard let last = frames.last else { return nil }
      return leaves.firstIndex { last == $0 || last.hasSuffix(" " + $0) }
    }
    var counts = [0, 0, 0]
    var whole = 0
    for (frames, n) in DwarfReportTests.folded(ours.stdout) {
      guard let i = leafIndex(frames) else { continue }
      counts[i] += n
      if let main = frames.firstIndex(of: "main"), main > 0 { whole += n }
    }
    let total = counts.reduce(0, +)
    #expect(total > 500, "\(ours.stdout.prefix(3000))")
    #expect(Double(whole) >= 0.95 * Double(total), "\(whole) of \(total):\n\(ours.stdout.prefix(3000))\n\(ours.stderr)")
    var perfCounts = [0, 0, 0]
    for (frames, n) in DwarfReportTests.folded(theirs.stdout) {
      if let i = leafIndex(frames) { perfCounts[i] += n }
    }
    let perfTotal = max(perfCounts.reduce(0, +), 1)
    for i in leaves.indices {
      let mine = 100 * Double(counts[i]) / Double(max(total, 1))
      let perf = 100 * Double(perfCounts[i]) / Double(perfTotal)
      #expect(abs(mine - perf) <= 3, "\(leaves[i]): sonde profile \(mine)%, perf --call-graph dwarf \(perf)%")
    }
    #expect(try ProfileAcceptanceTests.profilePrograms() == 0)
  }

  /// A C program built -O2 -fomit-frame-pointer spending its time in a comparator called by libc's qsort:
  /// the comparator's stacks read main → sort_rounds → qsort → msort_with_tmp… → compare, through every
  /// transport: unwound in the kernel and aggregated there (maps) or streamed (ringbuf), or stack copies
  /// unwound in user space (perf).
  /// Where `sonde features` says the kernel lacks bpf_loop or bpf_task_pt_regs, the in-kernel transports must
  /// instead refuse with an error naming the facility (the perf transport unwinds in user space anywhere).
  @Test(arguments: ["maps", "ringbuf", "perf"])
  func qsortComparatorReachesMainThroughLibc(transport: String) throws {
    let dir = try ToolRunner.tempDirectory("dwarf-profile-qsort")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = try DwarfReportTests.buildQsort(dir)
    let out = try Self.profile([binary, "60"], transport: transport)
    if transport != "perf", !Self.kernelUnwinds {
      #expect(out.status != 0 && out.stderr.contains("in-kernel CFI unwinding"), "\(out.stderr)")
      return
    }
    #expect(out.status == 0, "\(out.stderr)")
    if transport != "perf" { #expect(out.stderr.contains("unwind tables: "), "\(out.stderr)") }
    let (leaf, whole) = DwarfReportTests.qsortChains(out.stdout)
    #expect(leaf > 100, "\(out.stdout.prefix(3000))")
    // The walks of the process's first milliseconds, before its tables are in, stop at "no table" and are
    // counted as such: 95% of the rest reach main, and the start-up window stays under 15% of the run.
    let beforeTables = min(Self.noTableWalks(out.stderr), leaf)
    let message = "\(whole) of \(leaf), \(beforeTables) without tables:\n\(out.stdout.prefix(3000))\n\(out.stderr)"
    #expect(Double(whole) >= 0.95 * Double(leaf - beforeTables), "\(message)")
    #expect(Double(whole) >= 0.85 * Double(leaf), "\(message)")
  }

  /// The walks the profile's summary says ended for want of a table ("dwarf unwinds ended: … N no table").
  static func noTableWalks(_ stderr: String) -> Int {
    guard let line = stderr.split(separator: "\n").first(where: { $0.contains("dwarf unwinds ended:") }),
      let range = line.range(of: " no table")
    else { return 0 }
    return Int(line[..<range.lowerBound].split(separator: " ").last ?? "") ?? 0
  }

  /// Whether `sonde features` says this kernel has what the in-kernel unwinder needs.
  static let kernelUnwinds: Bool = {
    guard let out = try? ToolRunner.run([ToolRunner.sonde, "features", "--json"]),
      let list = try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]
    else { return false }
    return ["loop", "task_pt_regs"].allSatisfy { name in
      list.contains { $0["feature"] as? String == name && $0["supported"] as? Bool == true }
    }
  }()

  /// `--unwind auto` walks stacks with call-frame information where the kernel can (here, or with the perf
  /// transport anywhere): the comparator reaches main.
  @Test func autoUsesCallFrameInformationWhereTheKernelCan() throws {
    let dir = try ToolRunner.tempDirectory("dwarf-profile-auto")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = try DwarfReportTests.buildQsort(dir)
    let transport = Self.kernelUnwinds ? "maps" : "perf"
    let out = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "999", "--transport", transport, "--unwind", "auto", "--folded", "--", binary,
      "60",
    ])
    #expect(out.status == 0, "\(out.stderr)")
    let (leaf, whole) = DwarfReportTests.qsortChains(out.stdout)
    #expect(leaf > 100 && Double(whole) >= 0.95 * Double(leaf), "\(whole) of \(leaf)\n\(out.stderr)")
  }

  @Test func anUnknownUnwinderIsAClearError() throws {
    let bad = try ToolRunner.run([ToolRunner.sonde, "profile", "--unwind", "lbr", "--duration", "1"])
    #expect(bad.status != 0 && bad.stderr.contains("--unwind"), "\(bad.stderr)")
    let offCPU = try ToolRunner.run([ToolRunner.sonde, "profile", "--off-cpu", "--unwind", "dwarf", "--duration", "1"])
    #expect(offCPU.status != 0 && offCPU.stderr.contains("--off-cpu"), "\(offCPU.stderr)")
  }
}
