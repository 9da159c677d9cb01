@testable import BPF
import Foundation
import PerfEvents
import SondeTestSupport
import Testing

@Suite struct PermissionTests {
  @Test func withoutCapabilitiesTheErrorNamesCAPBPFAndTheSysctl() {
    let error = BPFErrors.permission("load", errno: EPERM, capabilities: 0, unprivilegedDisabled: "2")
    #expect(error.kind == .permissionDenied)
    #expect(error.reason.contains("CAP_BPF"))
    #expect(error.reason.contains("unprivileged_bpf_disabled=2"))
    #expect(error.reason.contains("CAP_PERFMON"))
  }

  @Test func withCAPBPFButNotCAPPERFMONTheErrorNamesCAPPERFMON() {
    let error = BPFErrors.permission("attach", errno: EACCES, capabilities: 1 << 39, unprivilegedDisabled: "0")
    #expect(error.reason.hasPrefix("tracing programs and perf event attachment need CAP_PERFMON"))
  }

  @Test func withEveryCapabilityThePolicyIsBlamed() {
    let all: UInt64 = 1 << 21 | 1 << 38 | 1 << 39
    let error = BPFErrors.permission("load", errno: EPERM, capabilities: all, unprivilegedDisabled: "2")
    #expect(error.reason.contains("although this process has CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF"))
  }

  @Test func anUnprivilegedSondeExplainsEveryRefusal() throws {
    // Run the real CLI as nobody with no capabilities (setpriv only prepares the environment).
    let setpriv = "/usr/bin/setpriv"
    try #require(FileManager.default.isExecutableFile(atPath: setpriv))
    let output =
      (try? TestSupport.run(
        setpriv,
        [
          "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
          TestSupport.sonde, "features", "--json",
        ]))?.stdout ?? ""
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]])
    let refused = rows.filter { $0["category"] as? String != "kernel" || $0["feature"] as? String != "btf" }
    #expect(!refused.isEmpty)
    for row in refused {
      #expect(row["supported"] as? Bool == false, "\(row)")
      let reason = row["reason"] as? String ?? ""
      #expect(reason.contains("CAP_BPF") || reason.contains("CAP_PERFMON"), "\(row)")
    }
  }
}
