import SondeBPFEngines
import SondeSystem
import Testing

/// The probe grammar `sonde trace` shares (issue 12): each kind parses, and malformed probes are errors
/// that show the grammar.
struct ProbeSpecTests {
  @Test func everyKindParses() throws {
    #expect(
      try ProbeSpec.parse("tracepoint:syscalls:sys_enter_*") == .tracepoint(subsystem: "syscalls", event: "sys_enter_*")
    )
    #expect(try ProbeSpec.parse("t:sched:sched_switch") == .tracepoint(subsystem: "sched", event: "sched_switch"))
    #expect(try ProbeSpec.parse("rawtp:sys_enter") == .rawTracepoint("sys_enter"))
    #expect(
      try ProbeSpec.parse("uprobe:/bin/app:ns::f+0x10")
        == .uprobe(binary: "/bin/app", symbol: "ns::f", offset: 16, isReturn: false))
    #expect(
      try ProbeSpec.parse("uretprobe:libc:malloc")
        == .uprobe(binary: "libc", symbol: "malloc", offset: 0, isReturn: true))
    // A `+` whose tail is no number belongs to the name.
    #expect(
      try ProbeSpec.parse("u:/bin/app:operator+")
        == .uprobe(binary: "/bin/app", symbol: "operator+", offset: 0, isReturn: false))
    #expect(try ProbeSpec.parse("usdt:/bin/app:prov:name") == .usdt(binary: "/bin/app", provider: "prov", name: "name"))
    #expect(
      try ProbeSpec.parse("kretprobe:do_sys_openat2") == .kprobe(function: "do_sys_openat2", offset: 0, isReturn: true))
    #expect(try ProbeSpec.parse("fexit:vfs_read") == .fentry(function: "vfs_read", isExit: true))
    #expect(try ProbeSpec.parse("fentry:vfs_read").description == "fentry:vfs_read")
  }

  @Test(arguments: [
    "getpid", "tracepoint:syscalls", "uprobe:/bin/app", "usdt:a:b", "kprobe:", "fentry:f+1", "tracpoint:a:b",
  ])
  func malformedProbesAreExplained(text: String) {
    #expect(throws: SondeError.self) { try ProbeSpec.parse(text) }
    do {
      _ = try ProbeSpec.parse(text)
    } catch {
      #expect(error.description.contains("probes: tracepoint:SUBSYSTEM:EVENT"), "\(error)")
      if text.hasPrefix("tracpoint") { #expect(error.description.contains("did you mean tracepoint"), "\(error)") }
    }
  }
}
