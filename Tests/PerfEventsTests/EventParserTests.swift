import CSonde
import Foundation
import Testing

@testable import PerfEvents
import SondeSystem

@Suite("Event specification parser")
struct EventParserTests {
  let parser = EventParser()

  func single(_ text: String) throws -> EventSpec {
    let groups = try parser.parse(text)
    #expect(groups.count == 1 && groups[0].events.count == 1)
    return groups[0].events[0]
  }

  @Test func aPMUTermWithoutANameIsAnErrorNotATrap() {
    for text in ["software/=/", "software/=1/", "software/config=1,=/"] {
      #expect(throws: SondeError.self, "\(text)") { try parser.parse(text) }
    }
  }

  @Test func genericHardwareAndSoftwareNamesAndAliasesResolve() throws {
    #expect(try single("cycles").config == UInt64(PERF_COUNT_HW_CPU_CYCLES.rawValue))
    #expect(try single("cpu-cycles").type == PERF_TYPE_HARDWARE.rawValue)
    #expect(try single("branches").config == UInt64(PERF_COUNT_HW_BRANCH_INSTRUCTIONS.rawValue))
    let tc = try single("task-clock")
    #expect(tc.type == PERF_TYPE_SOFTWARE.rawValue && tc.config == UInt64(PERF_COUNT_SW_TASK_CLOCK.rawValue))
    #expect(tc.unit == "msec")
    #expect(try single("cs").config == UInt64(PERF_COUNT_SW_CONTEXT_SWITCHES.rawValue))
    #expect(try single("major-faults").config == UInt64(PERF_COUNT_SW_PAGE_FAULTS_MAJ.rawValue))
    #expect(try single("emulation-faults").config == UInt64(PERF_COUNT_SW_EMULATION_FAULTS.rawValue))
    #expect(try single("dummy").config == UInt64(PERF_COUNT_SW_DUMMY.rawValue))
  }

  @Test func privilegeModifiersExcludeWhatIsNotNamed() throws {
    let user = try single("cycles:u").attributes()
    #expect(user.exclude_user == 0 && user.exclude_kernel == 1 && user.exclude_hv == 1)
    let kernel = try single("instructions:k").attributes()
    #expect(kernel.exclude_user == 1 && kernel.exclude_kernel == 0 && kernel.exclude_hv == 1)
    let both = try single("cycles:uk").attributes()
    #expect(both.exclude_user == 0 && both.exclude_kernel == 0 && both.exclude_hv == 1)
    let plain = try single("cycles").attributes()
    #expect(plain.exclude_user == 0 && plain.exclude_kernel == 0 && plain.exclude_hv == 0)
  }

  @Test func preciseGuestHostPinnedAndExclusiveModifiers() throws {
    #expect(try single("cycles:ppp").attributes().precise_ip == 3)
    #expect(try single("cycles:p").attributes().precise_ip == 1)
    let gh = try single("cycles:G").attributes()
    #expect(gh.exclude_host == 1 && gh.exclude_guest == 0)
    #expect(try single("cycles:H").attributes().exclude_guest == 1)
    #expect(try single("cycles:D").attributes().pinned == 1)
    #expect(try single("cycles:e").attributes().exclusive == 1)
    #expect(throws: SondeError.self) { try parser.parse("cycles:pppp") }
    #expect(throws: SondeError.self) { try parser.parse("cycles:z") }
  }

  @Test func hardwareCacheNamesEncodeIdOperationAndResult() throws {
    let l1 = try single("L1-dcache-load-misses")
    #expect(l1.type == PERF_TYPE_HW_CACHE.rawValue)
    #expect(
      l1.config
        == UInt64(PERF_COUNT_HW_CACHE_L1D.rawValue) | UInt64(PERF_COUNT_HW_CACHE_OP_READ.rawValue) << 8
        | UInt64(PERF_COUNT_HW_CACHE_RESULT_MISS.rawValue) << 16)
    let llc = try single("LLC-loads")
    #expect(llc.config == UInt64(PERF_COUNT_HW_CACHE_LL.rawValue))
    let store = try single("dTLB-stores")
    #expect(store.config == UInt64(PERF_COUNT_HW_CACHE_DTLB.rawValue) | 1 << 8)
    #expect(try single("branch-load-misses").config == 5 | 1 << 16)
  }

  @Test func rawEventsAreHexConfigs() throws {
    let raw = try single("r01c2")
    #expect(raw.type == PERF_TYPE_RAW.rawValue && raw.config == 0x01c2)
    #expect(try single("r1a8:u").attributes().exclude_kernel == 1)
  }

  @Test func tracepointIdsComeFromTracefs() throws {
    let root = try #require(TraceFS.root, "tracefs must be mounted (scripts/setup.sh mounts it)")
    let spec = try single("syscalls:sys_enter_getpid")
    let id = try String(contentsOfFile: "\(root)/events/syscalls/sys_enter_getpid/id", encoding: .utf8)
    #expect(spec.type == PERF_TYPE_TRACEPOINT.rawValue)
    #expect(spec.config == UInt64(id.trimmingWhitespace()))
  }

  @Test func tracepointGlobsExpandToEveryMatch() throws {
    let root = try #require(TraceFS.root)
    let groups = try parser.parse("sched:sched_process_*")
    let expected = try FileManager.default.contentsOfDirectory(atPath: "\(root)/events/sched")
      .filter { $0.hasPrefix("sched_process_") }.map { "sched:\($0)" }.sorted()
    #expect(groups.map(\.events[0].name).sorted() == expected)
    #expect(expected.count >= 4)
  }

  @Test func groupsKeepMembersTogetherAndApplyModifiersToAll() throws {
    let groups = try parser.parse("{task-clock,page-faults}:u,cs")
    #expect(groups.count == 2)
    #expect(groups[0].isExplicitGroup && groups[0].events.count == 2)
    #expect(groups[0].events.allSatisfy { $0.modifiers.excludeKernel })
    #expect(!groups[1].isExplicitGroup && groups[1].events[0].name == "cs")
  }

  @Test func breakpointsParseAddressLengthAndAccess() throws {
    let bp = try single("mem:0x1000/8:w")
    #expect(bp.type == PERF_TYPE_BREAKPOINT.rawValue)
    #expect(bp.breakpoint == .init(type: UInt32(HW_BREAKPOINT_W), address: 0x1000, length: 8))
    let exec = try single("mem:0x4000:x")
    #expect(exec.breakpoint?.type == UInt32(HW_BREAKPOINT_X) && exec.breakpoint?.length == 8)
    #expect(try single("mem:4096").breakpoint?.type == UInt32(HW_BREAKPOINT_R | HW_BREAKPOINT_W))
    #expect(throws: SondeError.self) { try parser.parse("mem:0x1000/3") }
  }

  @Test func dynamicPMUTermsScatterIntoConfigBitsFromSysfsFormat() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("sonde-pmu-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let fm = FileManager.default
    try fm.createDirectory(atPath: "\(root)/fake/format", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: "\(root)/fake/events", withIntermediateDirectories: true)
    try "42\n".write(toFile: "\(root)/fake/type", atomically: true, encoding: .utf8)
    try "config:0-7\n".write(toFile: "\(root)/fake/format/event", atomically: true, encoding: .utf8)
    try "config:8-15\n".write(toFile: "\(root)/fake/format/umask", atomically: true, encoding: .utf8)
    try "config:16-17,40-41\n".write(toFile: "\(root)/fake/format/split", atomically: true, encoding: .utf8)
    try "config1:0-63\n".write(toFile: "\(root)/fake/format/ldlat", atomically: true, encoding: .utf8)
    try "event=0x3c,umask=0x01\n".write(toFile: "\(root)/fake/events/ticks", atomically: true, encoding: .utf8)
    let p = EventParser(pmuRoot: root)
    let spec = try p.parse("fake/event=0xc0,umask=2,split=0xf,ldlat=30,period=1000/u")[0].events[0]
    #expect(spec.type == 42)
    #expect(spec.config == 0xc0 | 2 << 8 | 3 << 16 | 3 << 40)
    #expect(spec.config1 == 30 && spec.period == 1000 && spec.modifiers.excludeKernel)
    #expect(try p.parse("fake/ticks/")[0].events[0].config == 0x3c | 1 << 8)
    #expect(try p.parse("fake/config=5/,fake/ticks/").count == 2)
    #expect(throws: SondeError.self) { try p.parse("fake/event=0x1ff/") }
    #expect(throws: SondeError.self) { try p.parse("fake/nosuch=1/") }
    #expect(throws: SondeError.self) { try p.parse("nopmu/event=1/") }
  }

  @Test func realMSRPMUIsUsableFromSysfs() throws {
    guard let msr = PMU.named("msr") else { return }  // Only where the machine has it.
    let spec = try single("msr/tsc/")
    #expect(spec.type == msr.type)
  }

  @Test func unknownNamesSuggestCloseMatches() {
    do {
      _ = try parser.parse("task-clok")
      Issue.record("expected an error")
    } catch {
      #expect(error.kind == .invalidInput)
      #expect(error.remedy?.contains("'task-clock'") == true)
    }
    do {
      _ = try parser.parse("sched:sched_swtch")
      Issue.record("expected an error")
    } catch {
      #expect(error.remedy?.contains("sched:sched_switch") == true)
    }
  }

  @Test func topLevelSplittingRespectsGroupsAndPMUTerms() throws {
    #expect(
      try EventParser.splitTopLevel("a,{b,c}:u,pmu/x=1,y=2/,mem:0x10/8") == [
        "a", "{b,c}:u", "pmu/x=1,y=2/", "mem:0x10/8",
      ])
    #expect(throws: SondeError.self) { try EventParser.splitTopLevel("{a,b") }
    #expect(throws: SondeError.self) { try EventParser.splitTopLevel("pmu/x=1") }
  }

  @Test func cpuListsParseRangesAndRejectGarbage() throws {
    #expect(try CPUList.parse("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11])
    #expect(try CPUList.parse("0") == [0])
    #expect(throws: SondeError.self) { try CPUList.parse("3-1") }
    #expect(throws: SondeError.self) { try CPUList.parse("a") }
    #expect(CPUList.online().count == sysconf(Int32(_SC_NPROCESSORS_ONLN)))
  }
}
