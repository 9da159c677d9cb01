import BPF
import PerfEvents
import SondeBPFPrograms
import SondeBPFTestPrograms
import Testing
import SondeSystem

@Suite struct ErrorTests {
  @Test func anOutOfBoundsProgramFailsWithTheVerifierReasonLine() throws {
    let object = try BPFObject(bytes: BPFTestProgramBytes.invalid, name: "invalid")
    let error = #expect(throws: SondeError.self) { try object.load() }
    let text = error?.description ?? ""
    #expect(text.contains("invalid access to map value, value_size=8 off=8 size=8"), "\(text)")
    #expect(text.contains("sonde_bad_oob"))
    let log = try #require(object.verifierLog(for: "sonde_bad_oob"))
    #expect(log.reason?.hasPrefix("invalid access to map value") == true)
    #expect(log.lines.count >= 3)
  }

  @Test func theFullVerifierLogIsAvailableOnRequest() throws {
    let object = try BPFObject(bytes: BPFTestProgramBytes.invalid, name: "invalid")
    let short = #expect(throws: SondeError.self) { try object.load(options: .init(verifierLines: 2)) }
    let object2 = try BPFObject(bytes: BPFTestProgramBytes.invalid, name: "invalid")
    let full = #expect(throws: SondeError.self) { try object2.load(options: .init(verifierLines: nil)) }
    let log = try #require(object2.verifierLog(for: "sonde_bad_oob"))
    for line in log.lines { #expect(full?.reason.contains(line) == true) }
    #expect((short?.reason.count ?? 0) < (full?.reason.count ?? 0))
  }

  @Test func kprobeAttachIsUnsupportedOnThisKernelWithTheReason() throws {
    let kprobe = BPFFeatures.probe(.kprobe)
    guard !kprobe.supported else {
      // A kernel with kprobes: the attach must then work.
      let object = try BPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
      try object.loadOnly(["sonde_kprobe"])
      _ = try object.program("sonde_kprobe").attachKprobe(function: "do_nanosleep")
      return
    }
    let object = try BPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
    try object.loadOnly(["sonde_kprobe"])
    let error = #expect(throws: SondeError.self) {
      try object.program("sonde_kprobe").attachKprobe(function: "do_nanosleep")
    }
    #expect(error?.kind == .notSupported)
    #expect(error?.reason.hasPrefix("unsupported on this kernel: ") == true)
    #expect(error?.reason.contains("CONFIG_KPROBES") == true, "\(String(describing: error))")
  }

  /// Callers branch on the error's kind and facility, never on its text.
  @Test func aKprobeAttachFailsWithTheNotSupportedKindAndItsFacility() throws {
    guard !BPFFeatures.probe(.kprobe).supported else { return }  // covered by the attach above
    let object = try BPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
    try object.loadOnly(["sonde_kprobe"])
    do {
      _ = try object.program("sonde_kprobe").attachKprobe(function: "do_nanosleep")
      Issue.record("the feature probe says kprobes are missing, yet the attach succeeded")
    } catch  where error.kind == .notSupported {
      #expect(error.unsupported?.facility == .kprobe)
      #expect(error.unsupported?.cause == .missingConfig("CONFIG_KPROBES"))
    }
  }

  @Test func fentryAttachIsUnsupportedOnThisKernelWithTheReason() throws {
    guard !BPFFeatures.probe(.fentry).supported else {
      let object = try BPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
      try object.loadOnly(["sonde_fentry"])
      _ = try object.program("sonde_fentry").attachTrace()
      return
    }
    let error = #expect(throws: SondeError.self) {
      let object = try BPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
      try object.loadOnly(["sonde_fentry"])
      _ = try object.program("sonde_fentry").attachTrace()
    }
    #expect(error?.kind == .notSupported)
    #expect(error?.reason.hasPrefix("unsupported on this kernel: ") == true, "\(String(describing: error))")
    #expect(error?.reason.contains("fentry") == true)
  }
}
