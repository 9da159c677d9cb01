import Foundation
import SondeTestSupport
import Testing

/// scripts/test-kernels runs Sonde's kernel-facing checks inside QEMU on Debian's kernel (the real run is
/// part of scripts/test.sh, after this suite). This proves its verdicts can fail: with one check
/// deliberately broken inside the VM, the script reports that check as failed, the others as passed, and
/// exits non-zero.
@Suite struct TestKernelsHarnessTests {
  /// What the VM needs, or why it cannot run here.
  static let missing: String? = {
    let kernels = (try? FileManager.default.contentsOfDirectory(atPath: "/boot"))?.filter { $0.hasPrefix("vmlinuz-") }
    if kernels?.isEmpty ?? true { return "no kernel image in /boot (install linux-image-amd64)" }
    for tool in ["/usr/bin/qemu-system-x86_64", "/usr/bin/busybox", "/usr/bin/cpio"]
    where !FileManager.default.isExecutableFile(atPath: tool) {
      return "\(tool) is missing (scripts/setup.sh installs it)"
    }
    return nil
  }()

  static var packageRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  }

  @Test(.enabled(if: missing == nil, "VM unavailable: \(missing ?? "")"), .timeLimit(.minutes(10)))
  func aBrokenCheckInsideTheVMFailsTheScript() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [
      Self.packageRoot.appendingPathComponent("scripts/test-kernels").path, "--sonde", TestSupport.sonde, "--demo",
      TestSupport.demo,
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["TEST_KERNELS_ONLY"] = "features,stat"
    environment["TEST_KERNELS_BREAK"] = "stat"
    process.environment = environment
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let table = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 1, "exit \(process.terminationStatus)\n\(table)\n\(log)")
    #expect(table.contains("| kernel | features | stat |"), "\(table)")
    let rows = table.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| kernel") }
    #expect(!rows.isEmpty, "\(table)\n\(log)")
    for row in rows { #expect(row.hasSuffix("| pass | FAIL |"), "\(row)\n\(log)") }
    #expect(log.contains("TK-CHECK stat FAIL deliberately broken"), "\(log)")
  }
}
