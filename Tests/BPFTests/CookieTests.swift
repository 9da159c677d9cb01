import BPF
import CSonde
import PerfEvents
import SondeBPFTestPrograms
import SondeSystem
import SondeTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// BPF cookies: one program attached at several places reads, through `bpf_get_attach_cookie()`, the value
/// each attach call's options gave its link.
@Suite struct CookieTests {
  static let cookies = BPFFeatures.probe(.attachCookie)

  /// Loads cookie.bpf.c with only `program`, observing process `tgid` and thread `tid`.
  func load(_ program: String, tgid: Int32 = 0, tid: UInt32 = 0) throws -> BPFObject {
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.cookie, name: "cookie")
    try open.setConstant("target_tgid", to: UInt32(tgid))
    try open.setConstant("target_tid", to: tid)
    return try open.load(only: [program])
  }

  func hits(_ object: BPFObject) throws -> [UInt64: UInt64] {
    let entries = try object.map("hits_by_cookie", key: UInt64.self, value: UInt64.self).entries()
    return Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value) })
  }

  @Test(.enabled(if: cookies.supported, "BPF cookies unsupported: \(cookies.reason ?? "")"))
  func oneTracepointProgramAtTwoTracepointsSeesEachLinksCookie() throws {
    let object = try load("sonde_cookie_tp", tid: currentTID)
    let program = try object.program("sonde_cookie_tp")
    let entry = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getpid", options: .init(cookie: 7))
    let exit = try program.attachTracepoint(
      category: "syscalls", name: "sys_exit_getpid", options: .init(cookie: 0xFFFF_FFFF_0000_0011))
    callGetpid(300)
    exit.close()
    callGetpid(20)  // only the entry link is left
    entry.close()
    #expect(try hits(object) == [7: 320, 0xFFFF_FFFF_0000_0011: 300])
  }

  @Test func attachingOneProgramTwiceToOneTracepointIsRefusedClearly() throws {
    // The kernel keeps a program once per tracepoint (bpf_prog_array_copy: EEXIST), cookie or not.
    let object = try load("sonde_cookie_tp", tid: currentTID)
    let program = try object.program("sonde_cookie_tp")
    let first = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getpid")
    defer { first.close() }
    let error = #expect(throws: SondeError.self) {
      _ = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getpid", options: .init(cookie: 1))
    }
    #expect(error?.kind == .invalidInput)
    #expect(error?.errno == EEXIST)
    #expect(error?.reason.contains("already attached") == true, "\(String(describing: error))")
  }

  @Test(.enabled(if: cookies.supported, "BPF cookies unsupported: \(cookies.reason ?? "")"))
  func uprobesAtOneFunctionCarryTheirOwnCookies() throws {
    let calls = 250
    let child = try PausedChild(arguments: [TestSupport.demo, "calls", String(calls)])
    let object = try load("sonde_cookie_uprobe", tgid: child.pid)
    let program = try object.program("sonde_cookie_uprobe")
    let links = try [21, 42].map { cookie throws(SondeError) in
      try program.attachUprobe(
        binary: TestSupport.demo, symbol: "demo_value", options: .init(pid: child.pid, cookie: UInt64(cookie)))
    }
    #expect(try child.runToCompletion().exitCode == 0)
    for link in links { link.close() }
    #expect(try hits(object) == [21: UInt64(calls), 42: UInt64(calls)])
  }

  @Test func usdtCookiesReachTheProgramThroughLibbpfsSpec() throws {
    let calls = 120
    let child = try PausedChild(arguments: [TestSupport.demo, "calls", String(calls)])
    let object = try load("sonde_cookie_usdt", tgid: child.pid)
    let link = try object.program("sonde_cookie_usdt").attachUSDT(
      binary: TestSupport.demo, provider: "sonde_demo", name: "value", options: .init(pid: child.pid, cookie: 99))
    #expect(try child.runToCompletion().exitCode == 0)
    link.close()
    #expect(try hits(object) == [99: UInt64(calls)])
  }

  @Test(.enabled(if: cookies.supported, "BPF cookies unsupported: \(cookies.reason ?? "")"))
  func aPerfEventLinkCarriesItsCookieToEverySample() throws {
    let object = try load("sonde_cookie_perf")
    let program = try object.program("sonde_cookie_perf")
    var attr = perf_event_attr()
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_TASK_CLOCK.rawValue)
    attr.sample_period = 1_000_000  // every 1 ms of this thread's CPU time
    // task-clock of this thread: samples only while it runs, so every one is under this link's cookie.
    let event = try PerfEventFD.open(attr, target: .thread(Int32(currentTID)), label: "task-clock")
    let link = try program.attachPerfEvent(event, options: .init(cookie: 0xC0DE))
    burnThreadCPU(milliseconds: 100)
    link.close()
    let seen = try hits(object)
    #expect(Set(seen.keys) == [0xC0DE])
    #expect((seen[0xC0DE] ?? 0) > 10, "100 ms of CPU at one sample per ms gave \(seen)")
  }

  /// Spins until this thread has used `milliseconds` of CPU time.
  func burnThreadCPU(milliseconds: Int) {
    func threadCPUNanoseconds() -> Int {
      var now = timespec()
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
      return now.tv_sec * 1_000_000_000 + now.tv_nsec
    }
    let end = threadCPUNanoseconds() + milliseconds * 1_000_000
    var sink: UInt64 = 0
    while threadCPUNanoseconds() < end {
      for step in 0..<10_000 { sink &+= UInt64(step) &* 31 }
    }
    withExtendedLifetime(sink) {}
  }
}
