import Foundation
import SondeTestSupport
import Testing

/// `sonde trace` against the real kernel: exact counts of known calls (syscalls, uprobes by C and demangled
/// Swift names, USDT), a known latency, decoded exec events, syscount against `sonde stat`, the errors of
/// what this kernel lacks or the user misspelled, and nothing of Sonde's left in the kernel afterwards.
@Suite(.serialized)
struct TraceAcceptanceTests {
  static func sonde(_ arguments: [String]) throws -> TestSupport.Output {
    try ToolRunner.run([ToolRunner.sonde] + arguments)
  }

  /// Programs of the tracer still loaded (bpftool lists every program in the kernel).
  static func tracePrograms() throws -> Int {
    let list = try ToolRunner.run(["bpftool", "prog", "list"])
    return list.stdout.split(separator: "\n").filter { $0.contains("sonde_trace") }.count
  }

  /// The COUNT column of the row whose cells contain every one of `cells`.
  static func count(in table: String, row cells: [String]) -> Int? {
    for line in table.split(separator: "\n") {
      let words = line.split(separator: " ").map(String.init)
      if cells.allSatisfy(words.contains), let last = words.last, let n = Int(last) { return n }
    }
    return nil
  }

  @Test func getpidCallsOfAChildAreCountedExactlyByComm() throws {
    let result = try Self.sonde([
      "trace", "count", "tracepoint:syscalls:sys_enter_getpid", "--by", "comm", "--", ToolRunner.demo, "getpid", "4321",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(Self.count(in: result.stdout, row: ["sonde-demo"]) == 4321, "\(result.stdout)")
    #expect(try Self.tracePrograms() == 0)
  }

  @Test func systemWideCountSeesAChildByItsComm() throws {
    let dir = try ToolRunner.tempDirectory("trace-comm")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let copy = dir + "/gp-\(getpid() % 10000)"
    try FileManager.default.copyItem(atPath: ToolRunner.demo, toPath: copy)
    let tracer = try ProfileAcceptanceTests.Background([
      ToolRunner.sonde, "trace", "count", "tracepoint:syscalls:sys_enter_getpid", "--by", "comm",
    ])
    try tracer.waitForStart()
    let child = try ToolRunner.run([copy, "getpid", "777"])
    #expect(child.status == 0)
    kill(tracer.pid, SIGINT)
    let (status, stdout, stderr) = try tracer.finish()
    #expect(status == 0, "\(stderr)")
    #expect(Self.count(in: stdout, row: [URL(fileURLWithPath: copy).lastPathComponent]) == 777, "\(stdout)")
    #expect(try Self.tracePrograms() == 0)
  }

  @Test func uprobeAndUretprobeCountEveryCall() throws {
    let entry = try Self.sonde([
      "trace", "count", "uprobe:\(ToolRunner.demo):demo_value", "--", ToolRunner.demo, "calls", "250",
    ])
    #expect(entry.status == 0, "\(entry.stderr)")
    #expect(Self.count(in: entry.stdout, row: ["uprobe:\(ToolRunner.demo):demo_value"]) == 250, "\(entry.stdout)")
    // demo_value(i) returns 2i+1: each value once.
    let returns = try Self.sonde([
      "trace", "count", "uretprobe:\(ToolRunner.demo):demo_value", "--by", "retval", "--json", "--", ToolRunner.demo,
      "calls", "20",
    ])
    #expect(returns.status == 0, "\(returns.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(returns.stdout.utf8)) as? [String: Any]
    let rows = object?["counts"] as? [[String: Any]] ?? []
    let values = Set(rows.compactMap { $0["value"] as? Int })
    #expect(values == Set((0..<20).map { 2 * $0 + 1 }), "\(returns.stdout)")
    #expect(rows.allSatisfy { $0["count"] as? Int == 1 })
  }

  @Test func usdtProbeCountsEachArgument() throws {
    let result = try Self.sonde([
      "trace", "count", "usdt:\(ToolRunner.demo):sonde_demo:value", "--by", "arg0", "--json", "--", ToolRunner.demo,
      "calls", "12",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let rows = object?["counts"] as? [[String: Any]] ?? []
    #expect(Set(rows.compactMap { $0["value"] as? Int }) == Set(0..<12), "\(result.stdout)")
  }

  @Test func swiftMethodIsProbedByItsDemangledName() throws {
    let dir = try ToolRunner.tempDirectory("trace-swift")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = dir + "/SwiftCalls"
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Workloads/SwiftCalls.swift").path
    let swiftc = try #require(TestSupport.tool("swiftc"), "swiftc is not on PATH")
    let build = try ToolRunner.run([swiftc, "-O", "-module-name", "SwiftCalls", "-o", binary, source])
    #expect(build.status == 0, "\(build.stderr)")
    let result = try Self.sonde(["trace", "count", "uprobe:\(binary):Counter.step(by:)", "--", binary, "321"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(Self.count(in: result.stdout, row: ["uprobe:\(binary):Counter.step(by:)"]) == 321, "\(result.stdout)")
    // An unknown name lists the binary's close ones.
    let wrong = try Self.sonde(["trace", "count", "uprobe:\(binary):Counter.stepp(by:)", "--duration", "1"])
    #expect(wrong.status != 0)
    #expect(wrong.stderr.contains("Counter.step(by:)"), "\(wrong.stderr)")
  }

  @Test func tenMillisecondSleepsLandInTheEightToSixteenBucket() throws {
    let k = 15
    let result = try Self.sonde([
      "trace", "latency", "--func", "uprobe:\(ToolRunner.demo):demo_nap", "--unit", "ms", "--json", "--",
      ToolRunner.demo, "sleeps", "\(k)",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let histograms = object?["histograms"] as? [[String: Any]] ?? []
    #expect(histograms.count == 1, "\(result.stdout)")
    let buckets = histograms.first?["buckets"] as? [[String: Any]] ?? []
    #expect(buckets.count == 1, "\(result.stdout)")
    #expect(buckets.first?["low"] as? Int == 8 && buckets.first?["high"] as? Int == 16, "\(result.stdout)")
    #expect(buckets.first?["count"] as? Int == k)
    #expect(histograms.first?["count"] as? Int == k)
    // The text form is bpftrace's.
    let text = try Self.sonde([
      "trace", "funclatency", "uprobe:\(ToolRunner.demo):demo_nap", "--unit", "ms", "--", ToolRunner.demo, "sleeps",
      "3",
    ])
    #expect(text.stdout.contains("[8, 16)") && text.stdout.contains("count 3"), "\(text.stdout)")
  }

  @Test func execEventsDecodeTheFilename() throws {
    let events = try Self.sonde(["trace", "events", "tracepoint:sched:sched_process_exec", "--json", "--", "/bin/true"])
    #expect(events.status == 0, "\(events.stderr)")
    let lines = events.stdout.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    let filenames = lines.compactMap { ($0["fields"] as? [String: Any])?["filename"] as? String }
    #expect(filenames.contains("/bin/true"), "\(events.stdout)")
    #expect(lines.allSatisfy { $0["pid"] is Int && $0["comm"] is String && $0["timestamp_ns"] is Int })

    let snoop = try Self.sonde(["trace", "execsnoop", "--", "/bin/true"])
    #expect(snoop.status == 0, "\(snoop.stderr)")
    #expect(snoop.stdout.contains("/bin/true"), "\(snoop.stdout)")
  }

  @Test func syscountAgreesWithStatExactly() throws {
    let child = [ToolRunner.demo, "getpid", "300"]
    let stat = try Self.sonde(["stat", "-x", ",", "-e", "syscalls:sys_enter_*", "--"] + child)
    #expect(stat.status == 0, "\(stat.stderr)")
    var expected: [String: Int] = [:]
    for line in stat.stderr.split(separator: "\n") {
      let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      guard cells.count > 2, let n = Int(cells[0]), n > 0, let event = cells.first(where: { $0.hasPrefix("syscalls:") })
      else { continue }
      expected[String(event.dropFirst("syscalls:sys_enter_".count))] = n
    }
    #expect(expected["getpid"] == 300, "\(stat.stderr)")
    let syscount = try Self.sonde(["trace", "syscount", "--json", "--"] + child)
    #expect(syscount.status == 0, "\(syscount.stderr)")
    let rows = try JSONSerialization.jsonObject(with: Data(syscount.stdout.utf8)) as? [[String: Any]] ?? []
    var counted: [String: Int] = [:]
    for row in rows { if let name = row["syscall"] as? String, let n = row["count"] as? Int { counted[name] = n } }
    #expect(counted == expected)
  }

  @Test func missingFacilitiesAndMisspellingsAreExplained() throws {
    let tracepoint = try Self.sonde(["trace", "count", "tracepoint:sched:sched_proces_exec", "--duration", "1"])
    #expect(tracepoint.status != 0)
    #expect(tracepoint.stderr.contains("did you mean sched:sched_process_exec"), "\(tracepoint.stderr)")
    let kind = try Self.sonde(["trace", "count", "kprob:do_sys_openat2"])
    #expect(kind.status != 0 && kind.stderr.contains("kprobe"), "\(kind.stderr)")
    let symbol = try Self.sonde(["trace", "count", "uprobe:\(ToolRunner.demo):demo_valeu", "--duration", "1"])
    #expect(symbol.status != 0 && symbol.stderr.contains("demo_value"), "\(symbol.stderr)")
    // kprobes and fentry: they run where the kernel has them, and are explained where it has not.
    let features = try Self.sonde(["features", "--json"])
    for (probe, feature) in [("kprobe:do_sys_openat2", "kprobe"), ("fentry:do_sys_openat2", "fentry")] {
      let result = try Self.sonde(["trace", "count", probe, "--duration", "1"])
      if Self.supported(feature, in: features.stdout) {
        #expect(result.status == 0, "\(result.stderr)")
      } else {
        #expect(result.status != 0)
        #expect(result.stderr.contains("unsupported on this kernel"), "\(result.stderr)")
      }
    }
    #expect(try Self.tracePrograms() == 0)
  }

  /// The function tracer runs and restores tracefs where the kernel allows it; here (function hooks
  /// blocked) it fails with an error naming it, and tracefs is as it was.
  @Test func ftraceRunsOrExplainsAndRestoresTracefs() throws {
    let tracing = "/sys/kernel/tracing"
    let before = try? String(contentsOfFile: tracing + "/current_tracer", encoding: .utf8)
    let result = try Self.sonde(["ftrace", "--function", "vfs_read", "--duration", "1"])
    if result.status == 0 {
      #expect(result.stderr.contains("tracing vfs_read"), "\(result.stderr)")
    } else {
      #expect(result.stderr.contains("function tracer"), "\(result.stderr)")
    }
    #expect((try? String(contentsOfFile: tracing + "/current_tracer", encoding: .utf8)) == before)
  }

  /// Whether `sonde features --json` says the named facility is supported.
  static func supported(_ feature: String, in json: String) -> Bool {
    guard let list = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return false }
    return list.contains {
      $0["category"] as? String == "attach" && $0["feature"] as? String == feature && $0["supported"] as? Bool == true
    }
  }

  @Test func ctrlCPrintsTheCountsAndLeavesNothingBehind() throws {
    let tracing = "/sys/kernel/tracing"
    let tracerBefore = try? String(contentsOfFile: tracing + "/current_tracer", encoding: .utf8)
    let filterBefore = try? String(contentsOfFile: tracing + "/set_ftrace_filter", encoding: .utf8)
    let tracer = try ProfileAcceptanceTests.Background([
      ToolRunner.sonde, "trace", "count", "tracepoint:syscalls:sys_enter_getpid",
      "uprobe:\(ToolRunner.demo):demo_value",
      "--by", "comm",
    ])
    try tracer.waitForStart()
    #expect(try Self.tracePrograms() > 0)
    _ = try ToolRunner.run([ToolRunner.demo, "calls", "5"])
    kill(tracer.pid, SIGINT)
    let (status, stdout, stderr) = try tracer.finish()
    #expect(status == 0, "\(stderr)")
    #expect(Self.count(in: stdout, row: ["uprobe:\(ToolRunner.demo):demo_value", "sonde-demo"]) == 5, "\(stdout)")
    #expect(try Self.tracePrograms() == 0)
    #expect((try? String(contentsOfFile: tracing + "/current_tracer", encoding: .utf8)) == tracerBefore)
    #expect((try? String(contentsOfFile: tracing + "/set_ftrace_filter", encoding: .utf8)) == filterBefore)
  }

  @Test func stacksAreSymbolized() throws {
    let user = try Self.sonde([
      "trace", "count", "uprobe:\(ToolRunner.demo):demo_nap", "--by", "stack", "--", ToolRunner.demo, "sleeps", "5",
    ])
    #expect(user.status == 0, "\(user.stderr)")
    let frames = user.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    #expect(frames.contains("demo_nap") && frames.contains("sleeps") && frames.contains("main"), "\(user.stdout)")
    let kernel = try Self.sonde([
      "trace", "count", "tracepoint:syscalls:sys_enter_getpid", "--by", "kstack", "--", ToolRunner.demo, "getpid", "9",
    ])
    #expect(kernel.status == 0, "\(kernel.stderr)")
    #expect(kernel.stdout.contains("do_syscall_64") && Self.count(in: kernel.stdout, row: ["sonde-demo"]) == 9)
  }

  @Test func libraryUprobesAndRawTracepointsAttach() throws {
    // The demo's getpid loop calls libc's syscall() N times (the loader and libc may call it too).
    let library = try Self.sonde(["trace", "count", "uprobe:libc:syscall", "--", ToolRunner.demo, "getpid", "40"])
    #expect(library.status == 0, "\(library.stderr)")
    let calls = library.stdout.split(separator: "\n").first { $0.contains("libc") && $0.contains(":syscall") }
    #expect((calls?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 40, "\(library.stdout)")
    let raw = try Self.sonde(["trace", "count", "rawtp:sys_enter", "--", ToolRunner.demo, "getpid", "40"])
    #expect(raw.status == 0, "\(raw.stderr)")
    #expect((Self.count(in: raw.stdout, row: ["rawtp:sys_enter"]) ?? 0) >= 40, "\(raw.stdout)")
  }

  @Test func opensnoopShowsThePathAndItsDescriptor() throws {
    let result = try Self.sonde(["trace", "opensnoop", "--", "/bin/cat", "/etc/hostname"])
    #expect(result.status == 0, "\(result.stderr)")
    let line = result.stdout.split(separator: "\n").first { $0.hasSuffix(" /etc/hostname") }
    let cells = line?.split(separator: " ") ?? []
    #expect(cells.count >= 5 && cells[1] == "cat" && Int(cells[2]) ?? -1 >= 0, "\(result.stdout)")
  }

  @Test func commFilterKeepsOnlyThatCommand() throws {
    let dir = try ToolRunner.tempDirectory("trace-comm-filter")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let copy = dir + "/cf-\(getpid() % 10000)"
    try FileManager.default.copyItem(atPath: ToolRunner.demo, toPath: copy)
    let name = URL(fileURLWithPath: copy).lastPathComponent
    let tracer = try ProfileAcceptanceTests.Background([
      ToolRunner.sonde, "trace", "count", "tracepoint:raw_syscalls:sys_enter", "--by", "comm", "--comm", name,
    ])
    try tracer.waitForStart()
    _ = try ToolRunner.run([copy, "getpid", "100"])
    _ = try ToolRunner.run([ToolRunner.demo, "getpid", "100"])
    kill(tracer.pid, SIGINT)
    let (status, stdout, stderr) = try tracer.finish()
    #expect(status == 0, "\(stderr)")
    let rows = stdout.split(separator: "\n").dropFirst().filter { !$0.isEmpty }
    #expect(rows.count == 1 && rows[0].contains(name), "\(stdout)")
    #expect((Self.count(in: stdout, row: [name]) ?? 0) >= 100)
  }

  @Test func aTracedProcessThatExitsEndsTheRunAndIntervalsPrint() throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: ToolRunner.demo)
    child.arguments = ["naps", "8"]  // 1.6 s of 200 ms sleeps
    try child.run()
    let start = Date()
    let result = try Self.sonde([
      "trace", "count", "tracepoint:syscalls:sys_enter_nanosleep", "-p", "\(child.processIdentifier)", "--interval",
      "0.2", "--json", "--duration", "60",
    ])
    child.waitUntilExit()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(Date().timeIntervalSince(start) < 20)
    let lines = result.stdout.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    #expect(lines.count >= 3, "\(result.stdout)")
    let total = lines.flatMap { $0["counts"] as? [[String: Any]] ?? [] }.compactMap { $0["count"] as? Int }.reduce(0, +)
    #expect((1...8).contains(total), "\(result.stdout)")
  }

  @Test func runqlatMeasuresWakeUps() throws {
    let tracer = try ProfileAcceptanceTests.Background([ToolRunner.sonde, "trace", "runqlat", "--json"])
    try tracer.waitForStart()
    _ = try ToolRunner.run([ToolRunner.demo, "sleeps", "20"])
    kill(tracer.pid, SIGINT)
    let (status, stdout, stderr) = try tracer.finish()
    #expect(status == 0, "\(stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]
    let histograms = object?["histograms"] as? [[String: Any]] ?? []
    #expect((histograms.first?["count"] as? Int ?? 0) >= 20, "\(stdout)")
  }
}
