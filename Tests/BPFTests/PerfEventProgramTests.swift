import BPF
import CSonde
import PerfEvents
import SondeBPFTestPrograms
import SondeBPFTypes
import Testing
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct PerfEventProgramTests {
  @Test func perfEventProgramOnCPUClockRunsOnEveryOnlineCPU() throws {
    let object = try OpenBPFObject(bytes: BPFTestProgramBytes.perf, name: "perf").load()
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue)
    attr.sample_period = 1_000_000  // every 1 ms of CPU clock
    let links = try object.program("sonde_perf_tick").attachPerfEventPerCPU(attr, label: "cpu-clock")
    #expect(links.count == CPUList.online().count)
    // cpu-clock's timer does not sample an idle CPU: keep every online CPU busy meanwhile.
    burnOnEveryCPU(milliseconds: 300)
    for link in links { link.close() }
    let ticks = try #require(try object.map("ticks", key: UInt32.self, value: UInt64.self).lookupPerCPU(0))
    #expect(ticks.count == CPUList.possible().count)
    for cpu in CPUList.online() {
      // 300 ms busy at 1 ms per sample: well above 50 on every CPU, even when the VM steals time.
      #expect(ticks[Int(cpu)] > 50, "cpu \(cpu) saw \(ticks[Int(cpu)]) samples")
    }
  }

  /// Spins one new thread pinned to each online CPU for `milliseconds`, and waits for them.
  func burnOnEveryCPU(milliseconds: Int) {
    let finished = DispatchSemaphore(value: 0)
    let cpus = CPUList.online()
    for cpu in cpus {
      let thread = Thread {
        _ = sonde_pin_current_thread(cpu)
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(milliseconds) * 1_000_000
        while DispatchTime.now().uptimeNanoseconds < end {}
        finished.signal()
      }
      thread.start()
    }
    for _ in cpus { finished.wait() }
  }

}
