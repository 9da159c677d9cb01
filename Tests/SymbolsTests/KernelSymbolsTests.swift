import Foundation
import PerfEvents
import Testing

@testable import Symbols

@Suite struct KernelSymbolsTests {
  @Test func parsesKallsymsWithModulesAndLooksUpByBinarySearch() throws {
    let text = """
      ffffffff81000000 T _stext
      ffffffff81000100 t helper
      ffffffff81000200 D some_data
      ffffffff81000300 W weak_function
      ffffffffc0001000 t ext4_read [ext4]
      ffffffffc0001080 T ext4_write\t[ext4]
      """
    let symbols = KernelSymbols(parsing: text)
    #expect(!symbols.isRestricted)
    #expect(symbols.symbols.count == 5)  // data symbols are not code
    let helper = try #require(symbols.lookup(0xffff_ffff_8100_0150))
    #expect(helper.symbol.name == "helper" && helper.offset == 0x50)
    #expect(symbols.lookup(0xffff_ffff_8100_0350)?.symbol.name == "weak_function")
    let module = try #require(symbols.lookup(0xffff_ffff_c000_1010))
    #expect(module.symbol.name == "ext4_read" && module.symbol.module == "ext4")
    #expect(symbols.lookup(0xffff_ffff_c000_1090)?.symbol.module == "ext4")
    #expect(symbols.lookup(0x1000) == nil)
  }

  @Test func restrictedKallsymsIsDetected() {
    let symbols = KernelSymbols(parsing: "0000000000000000 T _stext\n0000000000000000 t helper\n")
    #expect(symbols.isRestricted)
    #expect(symbols.lookup(0xffff_ffff_8100_0000) == nil)
  }

  /// Against the live kernel: a known function's address + 0x10 names that function, via the library and the CLI.
  @Test func liveKernelAddressesSymbolize() throws {
    let kallsyms = try #require(readSmallFile("/proc/kallsyms"))
    let line = try #require(kallsyms.split(separator: "\n").first { $0.hasSuffix(" T schedule") })
    let address = try #require(UInt64(line.split(separator: " ")[0], radix: 16))
    guard address != 0 else {
      Issue.record("kallsyms addresses are hidden (kernel.kptr_restrict); run as root")
      return
    }
    let symbolizer = Symbolizer()
    let frame = symbolizer.symbolizeKernel(address + 0x10)
    #expect(frame.name == "schedule")
    #expect(frame.symbolOffset == 0x10)
    #expect(frame.module == "[kernel.kallsyms]")
    // Kernel addresses in a process batch go to kallsyms too.
    #expect(symbolizer.symbolize(pid: getpid(), addresses: [address]).first?.name == "schedule")
    let cli = try Support.symbolizeJSON(["--kernel", String(address + 0x10, radix: 16)])
    #expect(cli.first?["symbol"] as? String == "schedule")
    #expect(cli.first?["offset"] as? Int == 0x10)
  }
}
