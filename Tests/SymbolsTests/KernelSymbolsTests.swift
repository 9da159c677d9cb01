import Foundation
import SondeSystem
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

  /// A kept kernel symbol costs 16 bytes and its name; a name longer than the kernel's KSYM_NAME_LEN
  /// allows is a malformed line, skipped rather than cut.
  @Test func entriesAreSixteenBytesAndOverlongNamesAreSkipped() throws {
    #expect(MemoryLayout<KernelSymbols.Entry>.stride == 16)
    let long = String(repeating: "x", count: 1024)
    let symbols = KernelSymbols(parsing: "ffffffff81000000 T \(long)\nffffffff81000100 W fine\t[mod]\n")
    #expect(symbols.symbols.count == 1)
    let fine = try #require(symbols.symbols.first)
    #expect(fine.name == "fine" && fine.type == "W" && fine.module == "mod")
  }

  /// /proc/modules bounds each module's last symbol at the module's end instead of the 1 MiB guess; a
  /// module whose address is hidden (0) keeps the guess.
  @Test func moduleEndsComeFromProcModules() throws {
    let kallsyms = """
      ffffffff81000000 T _stext
      ffffffffc0001000 t ext4_read\t[ext4]
      ffffffffc0001080 T ext4_write\t[ext4]
      ffffffffc0100000 t xfs_read\t[xfs]
      ffffffffc0200000 t hidden_fn\t[hidden]
      """
    let modules = """
      ext4 12288 1 - Live 0xffffffffc0001000 (E)
      xfs 4096 0 - Live 0xffffffffc0100000
      hidden 8192 0 - Live 0x0000000000000000
      garbage line
      """
    let symbols = KernelSymbols(parsing: kallsyms, modules: modules)
    #expect(symbols.modules.count == 2)  // hidden has no address
    #expect(symbols.modules["ext4"] == KernelModule(name: "ext4", size: 12288, address: 0xffff_ffff_c000_1000))
    // ext4 spans [0xc0001000, 0xc0004000): its last symbol ends there, not 1 MiB later.
    let last = try #require(symbols.lookup(0xffff_ffff_c000_3fff))
    #expect(last.symbol.name == "ext4_write" && last.offset == 0x2f7f)
    #expect(symbols.lookup(0xffff_ffff_c000_4000) == nil)
    #expect(symbols.lookup(0xffff_ffff_c000_8000) == nil)
    #expect(symbols.lookup(0xffff_ffff_c010_0fff)?.symbol.name == "xfs_read")
    #expect(symbols.lookup(0xffff_ffff_c010_1000) == nil)
    // Hidden address: the 1 MiB fallback.
    #expect(symbols.lookup(0xffff_ffff_c020_8000)?.symbol.name == "hidden_fn")
    #expect(symbols.lookup(0xffff_ffff_c030_0000) == nil)
    // Without /proc/modules, the fallback everywhere.
    #expect(KernelSymbols(parsing: kallsyms).lookup(0xffff_ffff_c000_8000)?.symbol.name == "ext4_write")
  }

  /// Against this machine: every module /proc/modules lists with an address bounds its kallsyms symbols; a
  /// kernel without /proc/modules (no module support) has no module symbols at all — only the kernel's
  /// pseudo-modules, which /proc/modules never lists: `[bpf]` (JITed BPF programs, present while any test
  /// has one loaded) and `[__builtin__kprobes]`/`[__builtin__ftrace]` trampolines.
  @Test func liveModulesBoundTheirSymbols() throws {
    let symbols = try KernelSymbols.load()
    guard let text = readFileBytes("/proc/modules") else {
      #expect(symbols.modules.isEmpty)
      let pseudo: (String) -> Bool = { $0 == "bpf" || $0.hasPrefix("__builtin__") }
      #expect(symbols.isRestricted || !symbols.symbols.contains { $0.module.map { !pseudo($0) } ?? false })
      return
    }
    let listed = KernelModule.parse(text).filter { $0.address != 0 }
    #expect(symbols.modules.count == listed.count)
    for module in listed {
      let own = symbols.symbols.filter { $0.module == module.name }
      for symbol in own { #expect(module.contains(symbol.address), "\(symbol.name) outside [\(module.name)]") }
      guard !own.isEmpty else { continue }
      #expect(symbols.lookup(module.address + module.size - 1)?.symbol.module == module.name)
      let after = symbols.lookup(module.address + module.size)
      #expect(after == nil || after?.symbol.module != module.name)
    }
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
