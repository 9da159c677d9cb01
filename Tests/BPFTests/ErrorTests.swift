import BPF
import PerfEvents
import SondeBPFPrograms
import SondeBPFTestPrograms
import Testing
import SondeSystem

@Suite struct ErrorTests {
  /// Loads hooks.bpf.c's fentry program and attaches it (throws where the kernel refuses trampolines).
  static func attachFentry() throws {
    let object = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks").load(only: ["sonde_fentry"])
    _ = try object.program("sonde_fentry").attachTrace()
  }

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
      let object = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks").load(only: ["sonde_kprobe"])
      _ = try object.program("sonde_kprobe").attachKprobe(function: "do_nanosleep")
      return
    }
    let object = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks").load(only: ["sonde_kprobe"])
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
    let object = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks").load(only: ["sonde_kprobe"])
    do {
      _ = try object.program("sonde_kprobe").attachKprobe(function: "do_nanosleep")
      Issue.record("the feature probe says kprobes are missing, yet the attach succeeded")
    } catch  where error.kind == .notSupported {
      let facility = error.unsupported?.facility
      let cause = error.unsupported?.cause
      #expect(facility == Unsupported.Facility.kprobe)
      #expect(cause == Unsupported.Cause.missingConfig("CONFIG_KPROBES"))
    }
  }

  @Test func fentryAttachIsUnsupportedOnThisKernelWithTheReason() throws {
    guard !BPFFeatures.probe(.fentry).supported else {
      let object = try OpenBPFObject(bytes: BPFProgramBytes.hooks, name: "hooks").load(only: ["sonde_fentry"])
      _ = try object.program("sonde_fentry").attachTrace()
      return
    }
    let error = #expect(throws: SondeError.self) { try Self.attachFentry() }
    #expect(error?.kind == .notSupported)
    #expect(error?.reason.hasPrefix("unsupported on this kernel: ") == true, "\(String(describing: error))")
    #expect(error?.reason.contains("fentry") == true)
  }
}
