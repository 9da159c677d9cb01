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
    try checkTracer(lines, kprobes: options.contains("CONFIG_KPROBES=y"))
  }

  /// `sonde trace` in the VM: kprobe/kretprobe and fentry/fexit counts of do_sys_openat2 equal the
  /// sys_enter_openat count of the same run, funclatency times it, and ftrace streams it and puts
  /// current_tracer back.
  func checkTracer(_ lines: [Substring], kprobes: Bool) throws {
    func section(_ name: String) -> (status: String, text: String) {
      guard let begin = lines.firstIndex(where: { $0 == "VMTRACE-BEGIN \(name)" }),
        let end = lines.firstIndex(where: { $0.hasPrefix("VMTRACE-END \(name) ") })
      else { return ("missing", "") }
      return (String(lines[end].split(separator: " ").last ?? ""), lines[(begin + 1)..<end].joined(separator: "\n"))
    }
    func counts(_ text: String) -> [String: Int] {
      let json = text.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init) ?? "{}"
      let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
      var result: [String: Int] = [:]
      for row in object?["counts"] as? [[String: Any]] ?? [] {
        if let probe = row["probe"] as? String, let n = row["count"] as? Int { result[probe, default: 0] += n }
      }
      return result
    }
    for (name, entry, exit) in [
      ("kprobe", "kprobe:do_sys_openat2", "kretprobe:do_sys_openat2"),
      ("fentry", "fentry:do_sys_openat2", "fexit:do_sys_openat2"),
    ] where name != "kprobe" || kprobes {
      let (status, text) = section(name)
      #expect(status == "status=0", "\(name): \(text)")
      let c = counts(text)
      let opens = c["syscalls:sys_enter_openat"] ?? 0
      #expect(opens > 0 && c[entry] == opens && c[exit] == opens, "\(name): \(text)")
    }
    if kprobes {
      let (status, text) = section("funclatency")
      #expect(status == "status=0" && text.contains("\"count\":"), "funclatency: \(text)")
    }
    let (status, text) = section("ftrace")
    #expect(status == "status=0" && text.contains("do_sys_openat2"), "ftrace: \(text)")
    #expect(lines.contains("VMTRACE-TRACER nop"), "\(lines.filter { $0.hasPrefix("VMTRACE-TRACER") })")
  }
}
