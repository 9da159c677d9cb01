import BPF
import PerfEvents
import SondeBPFTestPrograms
import SondeBPFTypes
import Testing
import SondeSystem

@Suite struct TracepointCountTests {
  /// Loads count.bpf.c with only `program`, filtered on this thread.
  func load(_ program: String) throws -> BPFObject {
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.count, name: "count")
    try open.setConstant("target_tid", to: currentTID)
    let object = try open.load(only: [program])
    return object
  }

  func count(_ object: BPFObject, _ slot: sonde_count_slot) throws -> UInt64? {
    try object.map("counts", key: UInt32.self, value: UInt64.self).lookup(slot.rawValue)
  }

  @Test func tracepointProgramCountsExactlyTheGetpidCallsOfItsThread() throws {
    let object = try load("sonde_tp_getpid")
    let link = try object.program("sonde_tp_getpid").attachTracepoint(category: "syscalls", name: "sys_enter_getpid")
    callGetpid(1000)
    link.close()
    callGetpid(10)  // detached: not counted
    #expect(try count(object, SONDE_COUNT_TRACEPOINT) == 1000)
  }

  @Test func attachedTracepointProgramDoesNotSilencePerfCountingOfTheSameTracepoint() throws {
    // A tracepoint program returning 0 makes the kernel drop the event for every perf user of the
    // tracepoint; Sonde's programs let it through so a concurrent `perf stat` still counts.
    let object = try load("sonde_tp_getpid")
    let link = try object.program("sonde_tp_getpid").attachTracepoint(category: "syscalls", name: "sys_enter_getpid")
    defer { link.close() }
    let counts = try PerfCounters("syscalls:sys_enter_getpid").measure { callGetpid(250) }
    #expect(counts["syscalls:sys_enter_getpid"]?.value == 250)
    #expect(try count(object, SONDE_COUNT_TRACEPOINT) == 250)
  }

  @Test func rawTracepointProgramCountsExactlyTheGetpidCalls() throws {
    let object = try load("sonde_raw_getpid")
    let link = try object.program("sonde_raw_getpid").attachRawTracepoint("sys_enter")
    callGetpid(777)
    link.close()
    #expect(try count(object, SONDE_COUNT_RAW_TP) == 777)
  }

  @Test func btfTracepointProgramReadsTaskPidThroughCORE() throws {
    let object = try load("sonde_btf_getpid")
    let link = try object.program("sonde_btf_getpid").attachTrace()
    callGetpid(555)
    link.close()
    #expect(try count(object, SONDE_COUNT_TP_BTF) == 555)
  }

  @Test func autoAttachUsesTheSectionName() throws {
    let object = try load("sonde_tp_getpid")
    let link = try object.program("sonde_tp_getpid").attach()
    callGetpid(42)
    link.close()
    #expect(try count(object, SONDE_COUNT_TRACEPOINT) == 42)
  }

  @Test func constantsCannotBeSetAfterLoadOrWithTheWrongSize() throws {
    var open = try OpenBPFObject(bytes: BPFTestProgramBytes.count, name: "count")
    let wrongSize = #expect(throws: SondeError.self) { try open.setConstant("target_tid", to: UInt64(1)) }
    #expect(wrongSize?.kind == .invalidInput)
    let missing = #expect(throws: SondeError.self) { try open.setConstant("no_such_var", to: UInt32(1)) }
    #expect(missing?.kind == .invalidInput)
    let object = try open.load(only: ["sonde_tp_getpid"])
    // Setting a constant after load was a runtime error ("before load"); it no longer compiles: `load`
    // consumes the OpenBPFObject, and the loaded BPFObject has no setConstant.
    #expect(object.isLoaded)
  }
}
