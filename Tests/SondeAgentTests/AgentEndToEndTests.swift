import Foundation
import Pprof
import PprofMessages
import SondeTestSupport
import Testing

/// `sonde agent` end to end, against the real components a user runs beside it: Prometheus scraping
/// /metrics, Google's pprof fetching /debug/pprof/profile, headless Chromium loading the UI; a crash and a
/// restart; the token. Each test starts its own agent on a loopback port and data directory. Serialized:
/// each samples the whole machine.
@Suite(.serialized) struct AgentEndToEndTests {
  /// Windows, sample rate and workload sizes chosen so each test runs in seconds.
  static let fast = ["--freq", "99", "--window", "1"]

  func windows(_ agent: AgentProcess) throws -> [(start: Int64, end: Int64, samples: Int64)] {
    let (status, body) = try httpGet(agent.url + "/api/v1/timeline?from=0")
    guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
      let list = object["windows"] as? [[String: Any]]
    else { throw HarnessError("timeline: HTTP \(status) \(body)") }
    return list.map {
      (
        ($0["start"] as? NSNumber)?.int64Value ?? 0, ($0["end"] as? NSNumber)?.int64Value ?? 0,
        ($0["samples"] as? NSNumber)?.int64Value ?? 0
      )
    }
  }

  @Test func prometheusScrapesTheSampleCounter() throws {
    let dir = try TestSupport.temporaryDirectory("agent-prom")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let agent = try AgentProcess(data: dir + "/data", arguments: Self.fast)
    defer { agent.stop() }
    let prometheus = try PrometheusServer(directory: dir + "/prometheus", target: agent.address)
    defer { prometheus.stop() }
    var value = 0.0
    let scraped = try eventually(90) {
      value = try prometheus.instantValue("sonde_agent_samples_total") ?? 0
      return value > 0
    }
    #expect(scraped, "Prometheus never returned sonde_agent_samples_total > 0; agent log:\n\(agent.logText)")
    // The counter Prometheus holds is the agent's own: what /metrics says now is at least that.
    let (status, metrics) = try httpGet(agent.url + "/metrics")
    #expect(status == 200)
    let line = metrics.split(separator: "\n").first { $0.hasPrefix("sonde_agent_samples_total ") }
    let now = line.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
    #expect(now >= value, "metrics say \(now), Prometheus scraped \(value)")
  }

  @Test func pprofFetchesTheLiveProfileAndListsTheWorkload() throws {
    let dir = try TestSupport.temporaryDirectory("agent-pprof")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let agent = try AgentProcess(data: dir + "/data", arguments: Self.fast)
    defer { agent.stop() }
    let demo = try DemoWorkload(["shares", "15000"])
    defer { demo.stop() }
    let pprof = try #require(TestSupport.tool("pprof"), "pprof is installed by scripts/setup.sh")
    let out = try TestSupport.run(
      pprof, ["-top", "-cum", "-nodecount=200", agent.url + "/debug/pprof/profile?seconds=3"],
      environment: ["PPROF_TMPDIR": dir, "HOME": dir, "PATH": "/usr/bin:/bin"])
    #expect(out.status == 0, "\(out.stderr)")
    // demo_hot takes half of the demo's time: at 99 Hz over 3 s it cannot be missing.
    #expect(out.stdout.contains("demo_hot"), "pprof -top:\n\(out.stdout)\n\(out.stderr)")
    #expect(out.stdout.contains("Type: cpu"), "\(out.stdout)")
  }

  @Test func chromiumShowsTheWorkloadInTheFlameGraphAndSearchHighlightsIt() throws {
    let dir = try TestSupport.temporaryDirectory("agent-ui")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let agent = try AgentProcess(data: dir + "/data", arguments: Self.fast)
    defer { agent.stop() }
    let demo = try DemoWorkload(["shares", "20000"])
    defer { demo.stop() }
    // Wait until the store holds a few windows of the workload.
    #expect(
      try eventually(30) {
        let (_, body) = try httpGet(agent.url + "/api/v1/stacks?filter=comm:sonde-demo")
        return body.contains("demo_hot")
      })
    let chromium = try #require(TestSupport.tool("chromium"), "chromium is installed by scripts/setup.sh")
    let page = agent.url + "/?search=demo_hot"
    let dom = try TestSupport.run(
      chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom", page])
    #expect(dom.stdout.contains("data-ready=\"1\""), "the page never finished rendering:\n\(dom.stdout.prefix(2000))")
    #expect(dom.stdout.contains("data-name=\"sonde-demo\""), "no sonde-demo frame in the flame graph")
    #expect(dom.stdout.contains("data-name=\"demo_hot\""), "no demo_hot frame in the flame graph")
    let matches = dom.stdout.components(separatedBy: "class=\"frame match\"").count - 1
    #expect(matches >= 1, "search=demo_hot highlighted nothing")
    #expect(dom.stdout.contains("id=\"search-result\""))
    // The screenshot is kept as a build artifact.
    let artifacts = TestSupport.binDirectory + "/../test-artifacts"
    try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
    _ = try TestSupport.run(
      chromium,
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--window-size=1400,900",
        "--screenshot=\(artifacts)/agent-ui.png", page,
      ])
    #expect(FileManager.default.fileExists(atPath: artifacts + "/agent-ui.png"))
  }

  /// `--off-cpu` stores the time threads spend blocked, per stack: the demo's five 200 ms naps show as about
  /// a second in demo_nap's stack, in the pprof the live endpoint serves (one value, off_cpu/nanoseconds,
  /// which Google's pprof reads); and the data directory, now an off-CPU store, is refused to a CPU agent.
  @Test func offCPUAgentMeasuresTheNapsInTheirStack() throws {
    let dir = try TestSupport.temporaryDirectory("agent-offcpu")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let agent = try AgentProcess(data: dir + "/data", arguments: Self.fast + ["--off-cpu"])
    // The fetch's 4 s start before the demo: a wait is accounted when it ends, and the profile holds the
    // slices that end after the request.
    let file = dir + "/offcpu.pb.gz"
    let fetch = Process()
    fetch.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    fetch.arguments = ["-s", "-f", "-m", "60", "-o", file, agent.url + "/debug/pprof/profile?seconds=4"]
    try fetch.run()
    usleep(500_000)
    let demo = try DemoWorkload(["naps", "5"])
    defer { demo.stop() }
    fetch.waitUntilExit()
    #expect(fetch.terminationStatus == 0)
    let profile = try Perftools_Profiles_Profile(pprofFile: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
    #expect(
      profile.sampleType.map { "\(profile.string($0.type) ?? "")/\(profile.string($0.unit) ?? "")" } == [
        "off_cpu/nanoseconds"
      ])
    let napFunctions = Set(profile.function.filter { profile.string($0.name) == "demo_nap" }.map(\.id))
    let napLocations = Set(
      profile.location.filter { $0.line.contains { napFunctions.contains($0.functionID) } }.map(\.id))
    // This demo's naps only: the agent sees the whole machine, where other tests nap too.
    let pidKey = profile.stringTable.firstIndex(of: "pid").map(Int64.init) ?? -1
    let pid = Int64(demo.process.processIdentifier)
    let napped = profile.sample.filter { sample in
      sample.label.contains { $0.key == pidKey && $0.num == pid }
        && sample.locationID.contains(where: napLocations.contains)
    }.reduce(Int64(0)) { $0 + ($1.value.first ?? 0) }
    // 1.0 s asleep, plus the wake-up's way back to the CPU; nothing can make it less.
    #expect(napped >= 950_000_000 && napped < 1_600_000_000, "demo_nap: \(napped) ns off-CPU")
    let pprof = try #require(TestSupport.tool("pprof"), "pprof is installed by scripts/setup.sh")
    let top = try TestSupport.run(
      pprof, ["-top", "-nodecount=200", file], environment: ["HOME": dir, "PATH": "/usr/bin:/bin"])
    #expect(top.stdout.contains("Type: off_cpu") && top.stdout.contains("demo_nap"), "\(top.stdout)\(top.stderr)")
    agent.stop()
    let cpu = try TestSupport.run(TestSupport.sonde, ["agent", "--data", dir + "/data", "--listen", "127.0.0.1:0"])
    #expect(cpu.status != 0 && cpu.stderr.contains("holds off-cpu profiles"), "\(cpu.stderr)")
  }

  @Test func killNineLosesAtMostTheCurrentWindow() throws {
    let dir = try TestSupport.temporaryDirectory("agent-kill")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let first = try AgentProcess(data: dir + "/data", arguments: Self.fast)
    #expect(try eventually(30) { try windows(first).filter { $0.samples > 0 }.count >= 4 })
    // Only stored windows count: the live one (the last) is what a crash may lose.
    let before = try windows(first).dropLast()
    let stored = try httpGet(first.url + "/api/v1/stacks?from=0&to=\(before.last!.end)").body
    first.kill9()
    let second = try AgentProcess(data: dir + "/data", arguments: Self.fast)
    defer { second.stop() }
    let after = try windows(second)
    for w in before {
      #expect(after.contains { $0.start == w.start && $0.end == w.end && $0.samples == w.samples }, "window \(w) lost")
    }
    // The same range answers with the same samples after the restart.
    let again = try httpGet(second.url + "/api/v1/stacks?from=0&to=\(before.last!.end)").body
    #expect(sampleTotal(again) == sampleTotal(stored) && sampleTotal(stored) > 0)
  }

  func sampleTotal(_ stacksJSON: String) -> Int64 {
    let object = try? JSONSerialization.jsonObject(with: Data(stacksJSON.utf8)) as? [String: Any]
    return (object?["samples"] as? NSNumber)?.int64Value ?? -1
  }

  @Test func offLoopbackNeedsATokenAndEveryRequestCarriesIt() throws {
    let dir = try TestSupport.temporaryDirectory("agent-token")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let refused = try TestSupport.run(
      TestSupport.binDirectory + "/sonde-agent", ["--data", dir + "/data", "--listen", "0.0.0.0:0"])
    #expect(refused.status != 0)
    #expect(refused.stderr.contains("--token-file"), "\(refused.stderr)")

    let tokenFile = dir + "/token"
    try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
    let agent = try AgentProcess(data: dir + "/data", arguments: Self.fast + ["--token-file", tokenFile])
    defer { agent.stop() }
    for path in ["/", "/metrics", "/api/v1/timeline", "/debug/pprof/profile?seconds=1"] {
      #expect(try httpGet(agent.url + path).status == 401, "\(path) without the token")
      #expect(try httpGet(agent.url + path, headers: ["Authorization: Bearer wrong"]).status == 401)
    }
    #expect(try httpGet(agent.url + "/metrics", headers: ["Authorization: Bearer s3cret-token"]).status == 200)
    #expect(try httpGet(agent.url + "/?token=s3cret-token").status == 200)
  }

  @Test func withoutATokenOnlyLoopbackHostNamesAreAnswered() throws {
    let dir = try TestSupport.temporaryDirectory("agent-host")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let agent = try AgentProcess(data: dir + "/data", arguments: Self.fast)
    defer { agent.stop() }
    #expect(try httpGet(agent.url + "/metrics").status == 200)
    let port = agent.address.split(separator: ":").last.map(String.init) ?? ""
    #expect(try httpGet(agent.url + "/metrics", headers: ["Host: localhost:\(port)"]).status == 200)
    // A page that rebound its DNS name to 127.0.0.1 sends its own name.
    #expect(try httpGet(agent.url + "/api/v1/processes", headers: ["Host: attacker.example:\(port)"]).status == 421)
  }

  @Test func outOfRangeOptionsAreRefusedBeforeAnythingStarts() throws {
    let dir = try TestSupport.temporaryDirectory("agent-options")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for bad in [["--window", "inf"], ["--retention=-5"], ["--freq", "0"], ["--max-store-mb", "0"]] {
      let out = try TestSupport.run(TestSupport.binDirectory + "/sonde-agent", ["--data", dir + "/data"] + bad)
      #expect(out.status == 1, "\(bad): \(out.stderr)")
      #expect(out.stderr.contains("must be"), "\(bad): \(out.stderr)")
    }
    let config = dir + "/agent.conf"
    try "freq = 19\nwindow = nope\n".write(toFile: config, atomically: true, encoding: .utf8)
    let out = try TestSupport.run(TestSupport.binDirectory + "/sonde-agent", ["--config", config])
    #expect(out.status == 1 && out.stderr.contains("agent.conf:2"), "\(out.stderr)")
  }
}

/// Debian's Prometheus, started on a loopback port to scrape one target every second.
final class PrometheusServer {
  let process = Process()
  let port: Int

  init(directory: String, target: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    port = 19_000 + Int(getpid() % 1000)
    let config = """
      global: {scrape_interval: 1s, scrape_timeout: 1s}
      scrape_configs:
        - job_name: sonde-agent
          static_configs: [{targets: ['\(target)']}]
      """
    try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
    let binary = try #require(TestSupport.tool("prometheus"), "prometheus is installed by scripts/setup.sh")
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = [
      "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
      "--web.listen-address=127.0.0.1:\(port)",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try process.run()
  }

  /// The value of an instant query, nil while it has none.
  func instantValue(_ query: String) throws -> Double? {
    let (status, body) = try httpGet("http://127.0.0.1:\(port)/api/v1/query?query=\(query)")
    guard status == 200, let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
      let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
      let value = result.first?["value"] as? [Any], value.count == 2, let text = value[1] as? String
    else { return nil }
    return Double(text)
  }

  func stop() {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
  }
}
