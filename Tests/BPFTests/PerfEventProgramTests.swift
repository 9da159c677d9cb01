import BPF
import CSonde
import PerfEvents
import SondeBPFPrograms
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct PerfEventProgramTests {
  @Test func perfEventProgramOnCPUClockRunsOnEveryOnlineCPU() throws {
    let object = try BPFObject(bytes: BPFProgramBytes.perf, name: "perf")
    try object.load()
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue)
    attr.sample_period = 1_000_000  // every 1 ms of CPU clock
    let links = try object.program("sonde_perf_tick").attachPerfEventPerCPU(attr, label: "cpu-clock")
    #expect(links.count == CPUList.online.count)
    usleep(300_000)
    for link in links { link.close() }
    let ticks = try #require(try object.map("ticks", key: UInt32.self, value: UInt64.self).lookupPerCPU(0))
    #expect(ticks.count == CPUList.possible.count)
    for cpu in CPUList.online {
      // 300 ms at 1 ms per sample: well above zero on every CPU, busy or idle.
      #expect(ticks[Int(cpu)] > 50, "cpu \(cpu) saw \(ticks[Int(cpu)]) samples")
    }
  }

  @Test func cpuListsParseTheKernelSyntax() {
    #expect(CPUList.parse("0-3,6,8-9\n") == [0, 1, 2, 3, 6, 8, 9])
    #expect(CPUList.parse("0") == [0])
    #expect(CPUList.parse("3-1") == nil)
  }
}
