import BPF
import PerfEvents
import SondeBPFTestPrograms
import SondeTestSupport
import Symbols
import Testing
import SondeSystem

@Suite struct UprobeTests {
  @Test func uprobeCountsExactlyTheCallsOfAFunctionOfATestBuiltBinary() throws {
    let child = try PausedChild(arguments: [TestSupport.demo, "calls", "1234"])
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.uprobe, name: "uprobe")
    try open.setConstant("target_tgid", to: UInt32(child.pid))
    let object = try open.load(only: ["sonde_uprobe"])
    let link = try object.program("sonde_uprobe").attachUprobe(
      binary: TestSupport.demo, symbol: "demo_value", options: .init(pid: child.pid))
    #expect(try child.runToCompletion().exitCode == 0)
    link.close()
    #expect(try object.map("calls", key: UInt32.self, value: UInt64.self).lookup(0) == 1234)
  }

  @Test func uretprobeSeesEveryReturnValue() throws {
    let calls = 300
    let child = try PausedChild(arguments: [TestSupport.demo, "calls", String(calls)])
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.uprobe, name: "uprobe")
    try open.setConstant("target_tgid", to: UInt32(child.pid))
    let object = try open.load(only: ["sonde_uretprobe"])
    let link = try object.program("sonde_uretprobe").attachUprobe(
      binary: TestSupport.demo, symbol: "demo_value", options: .init(pid: child.pid, retprobe: true))
    #expect(try child.runToCompletion().exitCode == 0)
    link.close()
    let returns = try object.map("returns", key: Int64.self, value: UInt64.self).entries()
    // demo_value(i) returns 2i+1 for i in 0..<calls, once each.
    let expected = Dictionary(uniqueKeysWithValues: (0..<calls).map { (Int64(2 * $0 + 1), UInt64(1)) })
    #expect(Dictionary(uniqueKeysWithValues: returns.map { ($0.key, $0.value) }) == expected)
  }

  @Test func symbolsResolveToFileOffsetsThroughProgramHeaders() throws {
    let elf = try ELFFile.open(path: TestSupport.demo)
    let address = try #require(try elf.symbols(named: "demo_value").first?.address)
    let offset = try elf.probeOffset(ofSymbol: "demo_value")
    // Oracle: nm prints the same symbol address.
    let nm = (try? TestSupport.run("/usr/bin/nm", [TestSupport.demo]))?.stdout ?? ""
    let line = nm.split(separator: "\n").first { $0.hasSuffix(" demo_value") }
    #expect(line.map { UInt64($0.split(separator: " ")[0], radix: 16) } == address)
    // For a PIE's first executable segment, offset and address differ by p_vaddr - p_offset (often 0x1000 vs 0).
    #expect(offset <= address)
    let missing = #expect(throws: SondeError.self) { try elf.probeOffset(ofSymbol: "no_such_function_here") }
    #expect(missing?.kind == .invalidInput)
  }
}

@Suite struct USDTTests {
  @Test func usdtProbeSeesEveryHitAndItsArgument() throws {
    let calls = 500
    let child = try PausedChild(arguments: [TestSupport.demo, "calls", String(calls)])
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.usdt, name: "usdt")
    try open.setConstant("target_tgid", to: UInt32(child.pid))
    let object = try open.load()
    let link = try object.program("sonde_usdt_value").attachUSDT(
      binary: TestSupport.demo, provider: "sonde_demo", name: "value", options: .init(pid: child.pid))
    #expect(try child.runToCompletion().exitCode == 0)
    link.close()
    let stats = try object.map("usdt_stats", key: UInt32.self, value: UInt64.self)
    #expect(try stats.lookup(0) == UInt64(calls))
    #expect(try stats.lookup(1) == UInt64(calls * (calls - 1) / 2))
  }
}
