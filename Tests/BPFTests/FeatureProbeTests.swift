import BPF
import SondeTestSupport
import Testing

@Suite struct FeatureProbeTests {
  @Test func theFacilitiesSondeRelisOnAreSupportedHere() {
    for feature: BPFFeatures.Feature in [
      .tracepoint, .rawTracepoint, .tpBTF, .uprobe, .perfEvent, .ringbuf, .batchOps, .btf, .hash, .percpuArray,
      .perfEventArray, .helperRingbufReserve,
    ] {
      let result = BPFFeatures.probe(feature)
      #expect(result.supported, "\(feature.name): \(result.reason ?? "")")
    }
  }

  @Test func kprobeSupportFollowsTheKernelConfiguration() {
    // Oracle: the kernel's own configuration.
    let config = (try? TestSupport.run("/bin/zcat", ["/proc/config.gz"]))?.stdout ?? ""
    let hasKprobes = config.split(separator: "\n").contains("CONFIG_KPROBES=y")
    let result = BPFFeatures.probe(.kprobe)
    #expect(result.supported == hasKprobes, "\(result.reason ?? "")")
    if !hasKprobes {
      #expect(result.reason?.hasPrefix("unsupported on this kernel: ") == true)
    }
  }

  @Test func fentryAndFexitProbesAgreeAndExplainThemselves() {
    let fentry = BPFFeatures.probe(.fentry)
    let fexit = BPFFeatures.probe(.fexit)
    #expect(fentry.supported == fexit.supported)
    if !fentry.supported {
      #expect(fentry.reason?.hasPrefix("unsupported on this kernel: ") == true, "\(fentry.reason ?? "")")
    }
  }

  @Test func probesAreMemoised() {
    let first = BPFFeatures.all()
    let second = BPFFeatures.all()
    #expect(first == second)
    #expect(first.count == BPFFeatures.Feature.allCases.count)
    #expect(first.allSatisfy { $0.supported || $0.reason != nil })
  }
}
