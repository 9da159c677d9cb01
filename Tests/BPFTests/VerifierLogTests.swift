import BPF
import Testing

@Suite struct VerifierLogTests {
  static let sample = """
    func#0 @0
    0: R1=ctx() R10=fp0
    ; __u32 zero = 0; @ invalid.bpf.c:14
    0: (b4) w1 = 0                        ; R1_w=0
    3: (85) call bpf_map_lookup_elem#1    ; R0_w=map_value_or_null(id=1,map=values,ks=4,vs=8)
    ; return *(volatile __u64 *)((char *)value + 8) != 0; @ invalid.bpf.c:16
    6: (79) r1 = *(u64 *)(r0 +8)
    invalid access to map value, value_size=8 off=8 size=8
    R0 min value is outside of the allowed memory range
    processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
    """

  @Test func theReasonIsTheFirstLineAfterTheLastInstruction() {
    let log = VerifierLog(Self.sample)
    #expect(log.reason == "invalid access to map value, value_size=8 off=8 size=8")
    #expect(log.lines.count == 10)
    #expect(log.tail(2).first == "R0 min value is outside of the allowed memory range")
  }

  @Test func aLogWithoutInstructionsReportsItsLastLine() {
    #expect(
      VerifierLog("BTF is required, but is missing or corrupted.\n").reason
        == "BTF is required, but is missing or corrupted.")
  }
}
