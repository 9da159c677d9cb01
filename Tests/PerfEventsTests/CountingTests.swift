import CSonde
import Foundation
import SondeTestSupport
import Testing

@testable import PerfEvents
import SondeSystem

/// Counting against the real kernel: exact where the kernel makes it exact.
@Suite("Counting with perf_event_open")
struct CountingTests {
  /// Runs the demo workload held before exec, counts it from exec to exit, returns counts and termination.
  func countDemo(_ events: String, _ arguments: [String]) throws -> (
    [CounterReading?], CounterSet, PausedChild.Termination
  ) {
    let child = try PausedChild(arguments: [TestSupport.demo] + arguments)
    let set = try CounterSet(
      groups: try EventParser().parse(events), targets: [.thread(child.pid)],
      options: CountingOptions(inherit: true, enableOnExec: true))
    try child.release()
    let termination = try child.wait()
    return (try set.read(), set, termination)
  }

  @Test(arguments: [1, 1000, 25000])
  func getpidTracepointCountsExactlyTheCallsMade(_ n: Int) throws {
    let (readings, _, termination) = try countDemo("syscalls:sys_enter_getpid", ["getpid", "\(n)"])
    #expect(termination.exitCode == 0)
    #expect(readings[0]?.value == UInt64(n))
  }

  @Test func taskClockAgreesWithRusageCPUTimeWithinFivePercent() throws {
    let ((readings, _, termination), stolen) = try StolenTime.during { try countDemo("task-clock", ["spin", "300"]) }
    let counted = Double(try #require(readings[0]?.scaledValue)) / 1e9
    let rusage = termination.userSeconds + termination.systemSeconds
    #expect(rusage > 0.25)
    // task-clock runs while the task is scheduled in, stolen and interrupt time included; rusage excludes
    // them. They agree within 5% plus the steal and interrupt time the kernel accounted meanwhile.
    #expect(counted > rusage * 0.95, "task-clock \(counted)s vs rusage \(rusage)s")
    #expect(counted < rusage * 1.05 + stolen, "task-clock \(counted)s vs rusage \(rusage)s, \(stolen)s stolen")
  }

  @Test func touchingFreshPagesCountsAtLeastThatManyFaults() throws {
    let k = 5000
    let (readings, _, _) = try countDemo("page-faults,minor-faults", ["pages", "\(k)"])
    #expect(try #require(readings[0]?.value) >= UInt64(k))
    #expect(try #require(readings[1]?.value) >= UInt64(k))
  }

  @Test func hardwareEventsAreNotSupportedWithoutAPMUWhileOthersStillCount() throws {
    let (readings, set, _) = try countDemo("cycles,syscalls:sys_enter_getpid,instructions", ["getpid", "50"])
    if HardwarePMU.isPresent {
      #expect(readings[0] != nil)
    } else {
      guard case .notSupported(let reason) = set.status[0] else {
        Issue.record("cycles should be not supported without a PMU")
        return
      }
      #expect(reason.contains("no hardware PMU"))
      #expect(readings[0] == nil && readings[2] == nil)
    }
    #expect(readings[1]?.value == 50)
  }

  @Test func explicitGroupsAreReadTogetherWithPerfFormatGroup() throws {
    let (readings, _, _) = try countDemo("{syscalls:sys_enter_getpid,task-clock}", ["getpid", "321"])
    #expect(readings[0]?.value == 321)
    let clock = try #require(readings[1])
    #expect(clock.value > 0 && clock.enabled > 0 && clock.running == clock.enabled)
  }

  @Test func measureClosureCountsTheCallingThreadOnly() throws {
    let counts = try PerfCounters("syscalls:sys_enter_getpid,page-faults").measure {
      for _ in 0..<123 { _ = syscall_getpid() }
    }
    #expect(counts["syscalls:sys_enter_getpid"]?.value == 123)
  }

  @Test func resetAndDisableControlCounting() throws {
    let set = try CounterSet(
      groups: try EventParser().parse("syscalls:sys_enter_getpid"), targets: [.currentThread],
      options: CountingOptions(inherit: false))
    try set.enable()
    for _ in 0..<10 { _ = syscall_getpid() }
    try set.disable()
    for _ in 0..<10 { _ = syscall_getpid() }
    #expect(try set.read()[0]?.value == 10)
    try set.reset()
    #expect(try set.read()[0]?.value == 0)
  }

  @Test func missingProcessIsReportedAsSuch() throws {
    do {
      _ = try CounterSet(
        groups: try EventParser().parse("task-clock"), targets: [.thread(999_999_99)], options: .init())
      Issue.record("expected ESRCH")
    } catch {
      #expect(error.kind == .noSuchProcess)
    }
    #expect(throws: SondeError.self) { try threads(ofProcess: 999_999_99) }
  }

  @Test func perCPUSystemWideCountsOneDescriptorPerOnlineCPU() throws {
    let cpus = CPUList.online()
    let set = try CounterSet(
      groups: try EventParser().parse("cpu-clock"), targets: cpus.map { .cpu($0) }, options: .init())
    try set.enable()
    usleep(50_000)
    try set.disable()
    let reading = try #require(try set.read()[0])
    // cpu-clock on every CPU: about (number of CPUs × 50 ms) of time in total.
    let seconds = Double(reading.value) / 1e9
    #expect(seconds > 0.04 * Double(cpus.count) && seconds < 0.5 * Double(cpus.count))
  }

  @Test func commandsThatCannotBeFoundGiveAClearError() {
    #expect(throws: SondeError.self) { try PausedChild(arguments: ["no-such-command-sonde"]) }
  }
}

/// getpid(2) through the syscall instruction path (glibc's getpid does not cache since 2.25).
func syscall_getpid() -> Int32 { getpid() }
