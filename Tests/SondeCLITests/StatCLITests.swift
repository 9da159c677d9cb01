import Foundation
import SondeTestSupport
import Testing
import SondeSystem

/// `sonde stat` end to end, with `perf stat` as the oracle.
@Suite("sonde stat end to end")
struct StatCLITests {
  let sonde = TestSupport.sonde
  let demo = TestSupport.demo

  /// CSV lines (perf's `-x,` layout) by event name.
  func csvByEvent(_ text: String) -> [String: [String]] {
    var rows: [String: [String]] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") && line.contains(",") {
      let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      rows[fields[2]] = fields
    }
    return rows
  }

  @Test func csvCountsExactlyTheGetpidCallsOfTheCommand() throws {
    let out = try TestSupport.run(
      sonde, ["stat", "-x,", "-e", "syscalls:sys_enter_getpid", "--", demo, "getpid", "4321"])
    #expect(out.status == 0, "\(out.stderr)")
    #expect(out.stdout.isEmpty, "stat output belongs on stderr")
    let row = try #require(csvByEvent(out.stderr)["syscalls:sys_enter_getpid"])
    #expect(row[0] == "4321")
  }

  @Test func matchesPerfStatOnEventsUnitsAndExactCounts() throws {
    let perf = try #require(TestSupport.tool("perf"), "perf (linux-perf) is installed by scripts/setup.sh")
    let events = "task-clock,syscalls:sys_enter_getpid,syscalls:sys_exit_getpid,cycles,page-faults"
    let args = ["stat", "-x,", "-e", events, "--", demo, "getpid", "2000"]
    let ours = try TestSupport.run(sonde, args)
    let theirs = try TestSupport.run(perf, args)
    #expect(ours.status == 0 && theirs.status == 0)
    let a = csvByEvent(ours.stderr)
    let b = csvByEvent(theirs.stderr)
    #expect(Set(a.keys) == Set(b.keys))
    for (event, row) in b {
      let mine = try #require(a[event])
      #expect(mine.count == row.count, "field count of \(event)")
      #expect(mine[1] == row[1], "unit of \(event)")
      #expect(mine[0].hasPrefix("<") == row[0].hasPrefix("<"), "support of \(event)")
    }
    for exact in ["syscalls:sys_enter_getpid", "syscalls:sys_exit_getpid"] {
      #expect(a[exact]?[0] == b[exact]?[0] && a[exact]?[0] == "2000")
    }
    // Page faults of the same binary differ only by loader noise.
    let pf = (Double(a["page-faults"]![0])!, Double(b["page-faults"]![0])!)
    #expect(abs(pf.0 - pf.1) / pf.1 < 0.2)
  }

  @Test func jsonLinesCarryPerfKeys() throws {
    let out = try TestSupport.run(
      sonde, ["stat", "-j", "-e", "task-clock,syscalls:sys_enter_getpid,cycles", demo, "getpid", "10"])
    #expect(out.status == 0)
    let lines = out.stderr.split(separator: "\n")
    #expect(lines.count == 3)
    let keys: Set<String> = [
      "counter-value", "unit", "event", "event-runtime", "pcnt-running", "metric-value", "metric-unit",
    ]
    for line in lines {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      #expect(Set(object.keys) == keys)
    }
    let getpid = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
    #expect(getpid["event"] as? String == "syscalls:sys_enter_getpid")
    #expect(Double(getpid["counter-value"] as! String) == 10)
    let cycles = try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as! [String: Any]
    #expect(cycles["counter-value"] as? String == "<not supported>")
  }

  @Test func cyclesIsNotSupportedHereWhileOtherEventsCount() throws {
    let out = try TestSupport.run(sonde, ["stat", "-e", "cycles,task-clock,page-faults", "--", demo, "spin", "20"])
    #expect(out.status == 0)
    let lines = out.stderr.split(separator: "\n")
    let cycles = try #require(lines.first { $0.contains("cycles") })
    if !FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/cpu") {
      #expect(cycles.contains("<not supported>"))
    }
    let clock = try #require(lines.first { $0.contains("task-clock") })
    #expect(clock.contains("msec") && clock.contains("CPUs utilized"))
    #expect(out.stderr.contains("seconds time elapsed"))
  }

  @Test func intervalModePrintsTimestampedDeltasThatAddUpToTheWhole() throws {
    // The demo burns 350 ms of its own CPU time; however loaded the machine, the deltas must add up to it,
    // no delta can exceed its interval (one thread), and stamps follow the 100 ms schedule.
    let (out, stolen) = try StolenTime.during {
      try TestSupport.run(sonde, ["stat", "-I", "100", "-x,", "-e", "task-clock", demo, "spin", "350"])
    }
    #expect(out.status == 0)
    let rows = out.stderr.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
    #expect(rows.count >= 4)
    #expect(rows.allSatisfy { $0.count == 8 && $0[3] == "task-clock" && $0[2] == "msec" })
    let deltas = rows.compactMap { Double($0[1]) }
    let times = rows.compactMap { Double($0[0].trimmingCharacters(in: .whitespaces)) }
    #expect(deltas.count == rows.count && times.count == rows.count)
    let total = deltas.reduce(0, +)
    // task-clock includes stolen and interrupt time, which the demo's CPU-time clock leaves out.
    #expect(total > 350 * 0.97 && total < 350 * 1.1 + stolen * 1000, "sum of interval deltas \(total) ms")
    for (index, stamp) in times.dropLast().enumerated() {
      #expect(abs(stamp - 0.1 * Double(index + 1)) < 0.05, "stamp \(stamp) is on the 100 ms schedule")
    }
    for (delta, (start, end)) in zip(deltas.dropFirst(), zip(times, times.dropFirst())) {
      #expect(delta <= (end - start) * 1000 * 1.05 + 1, "one thread cannot use more CPU than wall time")
    }
  }

  @Test func repeatsReportVariance() throws {
    let out = try TestSupport.run(
      sonde, ["stat", "-r", "3", "-x,", "-e", "syscalls:sys_enter_getpid", demo, "getpid", "77"])
    let row = try #require(csvByEvent(out.stderr)["syscalls:sys_enter_getpid"])
    #expect(row[0] == "77" && row[3] == "0.00%")
    let human = try TestSupport.run(sonde, ["stat", "-r", "3", "-e", "task-clock", demo, "spin", "5"])
    #expect(human.stderr.contains("(3 runs)") && human.stderr.contains("+-"))
  }

  @Test func commandExitStatusIsPropagated() throws {
    let out = try TestSupport.run(sonde, ["stat", "-e", "task-clock", demo, "exit", "7"])
    #expect(out.status == 7)
  }

  @Test func existingProcessCanBeCountedByPid() throws {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: demo)
    child.arguments = ["spin", "1500"]
    try child.run()
    defer { child.terminate() }
    let out = try TestSupport.run(sonde, ["stat", "-x,", "-e", "task-clock", "-p", "\(child.processIdentifier)"])
    child.waitUntilExit()
    #expect(out.status == 0, "\(out.stderr)")
    let ms = try #require(csvByEvent(out.stderr)["task-clock"]).first.flatMap(Double.init)
    #expect((ms ?? 0) > 500, "counted until the process exited")
  }

  @Test func unknownEventsAndMissingPidsFailWithHints() throws {
    let bad = try TestSupport.run(sonde, ["stat", "-e", "task-clok", demo, "exit", "0"])
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("unknown event") && bad.stderr.contains("task-clock"))
    let missing = try TestSupport.run(sonde, ["stat", "-p", "99999999"])
    #expect(missing.status != 0 && missing.stderr.contains("no such process"))
  }

  @Test func unprivilegedSystemWideCountingExplainsParanoidAndCapability() throws {
    let setpriv = try #require(TestSupport.tool("setpriv"), "setpriv (util-linux) is part of Debian's base system")
    let level =
      Int(
        (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))?
          .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 2
    // With paranoid ≤ 0 an unprivileged user may count system-wide; the specification covers ≥ 1.
    try #require(level >= 1, "perf_event_paranoid is \(level): system-wide counting is allowed for everyone")
    let out = try TestSupport.run(
      setpriv,
      [
        "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", sonde, "stat", "-a", "-e",
        "cpu-clock", "sleep", "0.01",
      ])
    #expect(out.status != 0)
    #expect(out.stderr.contains("perf_event_paranoid is \(level)"))
    #expect(out.stderr.contains("CAP_PERFMON"))
    #expect(!out.stderr.contains("Fatal error") && !out.stderr.contains("Stack dump"))
  }

  @Test func ctrlCPrintsWhatWasCountedSoFar() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: sonde)
    process.arguments = ["stat", "-x,", "-a", "-e", "cpu-clock,context-switches"]
    let err = Pipe()
    process.standardError = err
    try process.run()
    usleep(400_000)
    process.interrupt()
    let data = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let rows = csvByEvent(String(decoding: data, as: UTF8.self))
    // Every online CPU's clock ran for the whole time until the interrupt: "CPUs utilized" is the CPU count.
    let utilized = try #require(rows["cpu-clock"].flatMap { Double($0[5]) })
    let cpus = Double(ProcessInfo.processInfo.activeProcessorCount)
    #expect(abs(utilized - cpus) < 0.1 * cpus, "cpu-clock covers \(utilized) CPUs")
    #expect(rows["context-switches"] != nil)
  }

  @Test func cpuListRestrictsSystemWideCountingToThoseCPUs() throws {
    let one = try TestSupport.run(sonde, ["stat", "-x,", "-C", "0", "-e", "cpu-clock", "sleep", "0.2"])
    // cpu-clock of one CPU advances with wall time: exactly one CPU utilized, however loaded the machine.
    let utilized = try #require(csvByEvent(one.stderr)["cpu-clock"].flatMap { Double($0[5]) })
    #expect(abs(utilized - 1) < 0.1, "-C 0 covers \(utilized) CPUs")
    let offline = try TestSupport.run(sonde, ["stat", "-C", "4096", "-e", "cpu-clock", "true"])
    #expect(offline.status != 0 && offline.stderr.contains("not online"))
  }
}
