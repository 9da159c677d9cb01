import Foundation
import SondeTestSupport
import Testing

/// kprobe and fentry cannot attach on the CI kernel; this proves Sonde's paths for them on Debian's own
/// kernel, booted under qemu from an initramfs by scripts/vm-check.sh.
@Suite struct VMCheckTests {
  /// What the VM check needs, or why it cannot run here.
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

  @Test(.enabled(if: missing == nil, "VM check unavailable: \(missing ?? "")"), .timeLimit(.minutes(5)))
  func kprobeAndFentryAttachOnDebiansKernelInAVM() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [Self.packageRoot.appendingPathComponent("scripts/vm-check.sh").path, TestSupport.sonde]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let kernelLine = try #require(lines.first { $0.contains("VMCHECK-KERNEL ") })
    let release = String(kernelLine.split(separator: " ").last ?? "")
    let begin = try #require(lines.firstIndex { $0.hasSuffix("VMCHECK-BEGIN") })
    let end = try #require(lines.firstIndex { $0.hasPrefix("VMCHECK-END") })
    #expect(lines[end] == "VMCHECK-END status=0")
    let json = lines[(begin + 1)..<end].joined(separator: "\n")
    let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
    var supported: [String: Bool] = [:]
    var reasons: [String: String] = [:]
    for row in rows {
      let key = "\(row["category"] as? String ?? "")/\(row["feature"] as? String ?? "")"
      supported[key] = row["supported"] as? Bool
      reasons[key] = row["reason"] as? String
    }
    // Oracle: the booted kernel's configuration file.
    let config = (try? String(contentsOfFile: "/boot/config-\(release)", encoding: .utf8)) ?? ""
    let options = Set(config.split(separator: "\n").map(String.init))
    #expect(supported["attach/kprobe"] == options.contains("CONFIG_KPROBES=y"), "\(reasons["attach/kprobe"] ?? "")")
    #expect(supported["attach/fentry"] == true, "\(reasons["attach/fentry"] ?? "")")
    #expect(supported["attach/fexit"] == true, "\(reasons["attach/fexit"] ?? "")")
    #expect(supported["attach/kprobe_multi"] == options.contains("CONFIG_FPROBE=y"))
    for key in ["attach/tracepoint", "attach/raw_tp", "attach/tp_btf", "attach/uprobe", "map type/ringbuf"] {
      #expect(supported[key] == true, "\(key): \(reasons[key] ?? "")")
    }
  }
}
