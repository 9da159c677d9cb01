import BPF
import PerfEvents
import SondeBPFPrograms
import SondeBPFTestPrograms
import Testing
import SondeSystem

@Suite struct ErrorTests {
  /// The error from loading the out-of-bounds fixture (nil if it loaded, which is a failure of its own).
  static func loadFailure(_ options: BPFObject.LoadOptions) -> SondeError? {
    do {
      let open = try OpenBPFObject(bytes: BPFTestProgramBytes.invalid, name: "invalid")
      _ = try open.load(options: options)
      Issue.record("the verifier accepted an out-of-bounds program")
      return nil
    } catch {
      return error
    }
  }

  @Test func anOutOfBoundsProgramFailsWithTheVerifierReasonLine() throws {
    let error = Self.loadFailure(BPFObject.LoadOptions())
    let text = error?.description ?? ""
    #expect(text.contains("invalid access to map value, value_size=8 off=8 size=8"), "\(text)")
    #expect(text.contains("sonde_bad_oob"))
    // The whole log travels with the error (the open object is consumed by load).
    let log = VerifierLog(try #require(error?.log).joined(separator: "\n"))
    #expect(log.reason?.hasPrefix("invalid access to map value") == true)
    #expect(log.lines.count >= 3)
  }

  @Test func theFullVerifierLogIsAvailableOnRequest() throws {
    let short = Self.loadFailure(BPFObject.LoadOptions(verifierLines: 2))
    let full = Self.loadFailure(BPFObject.LoadOptions(verifierLines: nil))
    let log = VerifierLog(try #require(full?.log).joined(separator: "\n"))
    for line in log.lines { #expect(full?.reason.contains(line) == true) }
    #expect((short?.reason.count ?? 0) < (full?.reason.count ?? 0))
  }

  @Test func kprobeAttachIsUnsupportedOnThisKernelWithTheReason() throws {
    let kprobe = BPFFeatures.probe(.kprobe)
    guard !kprobe.supported else {
      // A kernel with kprobes: the attach must then work.
      var open = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
      let object = try open.load(only: ["sonde_kprobe"])
      _ = try object.program("sonde_kprobe").attachKprobe(function: "do_nanosleep")
      return
    }
    var open = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
    let object = try open.load(only: ["sonde_kprobe"])
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
    var open = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
    let object = try open.load(only: ["sonde_kprobe"])
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
      var open = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
      let object = try open.load(only: ["sonde_fentry"])
      _ = try object.program("sonde_fentry").attachTrace()
      return
    }
    let error = #expect(throws: SondeError.self) {
      var open = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks")
      let object = try open.load(only: ["sonde_fentry"])
      _ = try object.program("sonde_fentry").attachTrace()
    }
    #expect(error?.kind == .notSupported)
    #expect(error?.reason.hasPrefix("unsupported on this kernel: ") == true, "\(String(describing: error))")
    #expect(error?.reason.contains("fentry") == true)
  }
}
