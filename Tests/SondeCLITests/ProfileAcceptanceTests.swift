import Foundation
import Testing
import Pprof
import PprofMessages
import SondeSystem
import SondeTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 11's acceptance for `sonde profile`, end to end: the built CLI against
/// `perf record -g` as the oracle on the demo whose leaf functions take known shares (50/30/20), and what
/// happens at the edges — a missing pid, a command that exits before the drain, a full stack map, Ctrl-C —
/// with no BPF program of Sonde's left behind.
@Suite(.serialized)
struct ProfileAcceptanceTests {
  /// The demo's three leaf functions, whose own bodies burn CPU 5:3:2.
  static let leaves = ["self_hot", "self_warm", "self_cool"]

  @Test(arguments: ["maps", "ringbuf", "perf"])
  func leafSharesMatchPerfAndCallerChainsAreWhole(transport: String) throws {
    let dir = try ToolRunner.tempDirectory("profile-shares")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let folded = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "999", "--transport", transport, "--folded", "--", ToolRunner.demo,
      "selfshares", "1500",
    ])
    #expect(folded.status == 0, "\(folded.stderr)")
    let perfFile = dir + "/perf.data"
    let perfRec = try ToolRunner.run([
      "perf", "record", "-F", "999", "-g", "-o", perfFile, "--", ToolRunner.demo, "selfshares", "1500",
    ])
    #expect(perfRec.status == 0, "\(perfRec.stderr)")
    let perfReport = try ToolRunner.run([
      "perf", "report", "-i", perfFile, "--stdio", "--no-children", "--sort", "sym", "-g", "none",
    ])
    // Shares among the three known functions: the two runs happen one after the other, and on a busy machine
    // (the suite runs in parallel) each may absorb a different amount of interrupt work in kernel frames.
    let all = Self.leafShares(folded.stdout)
    let known = Self.leaves.reduce(0) { $0 + (all[$1] ?? 0) }
    #expect(known > 50, "the demo's leaves hold \(known)% of its samples:\n\(folded.stdout.prefix(3000))")
    let perfShares = Self.amongLeaves(ToolRunner.shares(perfReport.stdout))
    let ours = Self.amongLeaves(all)
    for f in Self.leaves {
      #expect(
        abs((ours[f] ?? 0) - (perfShares[f] ?? 0)) <= 3,
        "\(f): sonde profile \(ours[f] ?? 0)%, perf \(perfShares[f] ?? 0)%")
    }
    // Whole chains from main to each leaf, through the caller.
    for f in Self.leaves {
      #expect(
        folded.stdout.contains("main;self_shares;\(f) "), "no main;self_shares;\(f) in:\n\(folded.stdout.prefix(2000))")
    }
    // Stacks a sample could not keep are counted, never silent; here (4 stacks, 8192 buckets) none collide.
    #expect(!folded.stderr.contains("collisions") && !folded.stderr.contains("map full"), "\(folded.stderr)")
    #expect(try Self.profilePrograms() == 0)
  }

  /// A Swift workload built with `swiftc -O`: its three leaf methods appear demangled and short
  /// (`Matrix.reduce(rounds:)`), with shares within 3 points of perf record's in the same test. perf prints
  /// Swift names mangled, so its rows are matched by the mangled identifiers.
  @Test func swiftOptimizedLeavesAreDemangledWithPerfsShares() throws {
    let dir = try ToolRunner.tempDirectory("profile-swift")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let binary = dir + "/SwiftShares"
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Workloads/SwiftShares.swift").path
    let swiftc = try #require(TestSupport.tool("swiftc"), "swiftc is not on PATH")
    let build = try ToolRunner.run([swiftc, "-O", "-module-name", "SwiftShares", "-o", binary, source])
    #expect(build.status == 0, "\(build.stderr)")
    // About 8000 samples each: the difference of two shares near 50% then has a standard deviation of
    // 0.8 points, so the 3-point bound is nearly four of them (with 1500 it was two, and failed once in CI).
    let folded = try ToolRunner.run([ToolRunner.sonde, "profile", "-F", "1999", "--folded", "--", binary, "4000"])
    #expect(folded.status == 0, "\(folded.stderr)")
    let perfFile = dir + "/perf.data"
    let perfRec = try ToolRunner.run(["perf", "record", "-F", "1999", "-o", perfFile, "--", binary, "4000"])
    #expect(perfRec.status == 0, "\(perfRec.stderr)")
    let perfReport = try ToolRunner.run(["perf", "report", "-i", perfFile, "--stdio", "--sort", "sym"])
    // (demangled name Sonde must print, mangled identifier perf's row holds)
    let leaves = [
      ("Matrix.reduce(rounds:)", "6MatrixV6reduce6rounds"), ("Matrix.transpose(rounds:)", "6MatrixV9transpose6rounds"),
      ("Checksum.fold(_:seed:)", "8ChecksumO4fold_4seed"),
    ]
    let ours = Self.leafShares(folded.stdout)
    let theirs = ToolRunner.shares(perfReport.stdout)
    func among(_ shares: [String: Double], _ matches: (String, Int) -> Bool) -> [Double] {
      let each = leaves.indices.map { i in shares.filter { matches($0.key, i) }.values.reduce(0, +) }
      let total = max(each.reduce(0, +), 1e-9)
      return each.map { 100 * $0 / total }
    }
    // Sonde's leaf is the whole simplified name: `Matrix.reduce(rounds:)`, or with a specialization prefix
    // (`specialized static Checksum.fold(_:seed:)`) when -O specialized the function.
    let sondeShares = among(ours) { name, i in name == leaves[i].0 || name.hasSuffix(" " + leaves[i].0) }
    let perfShares = among(theirs) { name, i in name.contains(leaves[i].1) }
    let known = leaves.indices.reduce(0.0) { total, i in
      total + ours.filter { $0.key == leaves[i].0 || $0.key.hasSuffix(" " + leaves[i].0) }.values.reduce(0, +)
    }
    #expect(known > 50, "the workload's leaves hold \(known)% of its samples:\n\(folded.stdout.prefix(3000))")
    for i in leaves.indices {
      #expect(
        abs(sondeShares[i] - perfShares[i]) <= 3,
        "\(leaves[i].0): sonde profile \(sondeShares[i])%, perf \(perfShares[i])%\n\(perfReport.stdout.prefix(2000))")
    }
    #expect(try Self.profilePrograms() == 0)
  }

  /// A command that runs 1.5 s and exits long before the profiler's first drain still symbolizes: its
  /// mappings were read when the program first saw it.
  @Test(arguments: ["maps", "perf"])
  func aProcessThatExitsBeforeTheDrainIsSymbolized(transport: String) throws {
    let profiler = try Background([
      ToolRunner.sonde, "profile", "-a", "-F", "499", "--interval", "5", "--duration", "4", "--folded",
      "--transport", transport,
    ])
    // A copy of the demo under a name of its own: -a also sees other tests' demos, which are not this test's.
    let dir = try ToolRunner.tempDirectory("profile-exit-\(transport)")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let name = "exitdrain\(getpid() % 100000)"
    try FileManager.default.copyItem(atPath: ToolRunner.demo, toPath: dir + "/" + name)
    try profiler.waitForStart()
    let demo = try ToolRunner.run([dir + "/" + name, "selfshares", "1500"])
    #expect(demo.status == 0)
    let (status, stdout, stderr) = try profiler.finish()
    #expect(status == 0, "\(stderr)")
    let lines = stdout.split(separator: "\n").filter { $0.hasPrefix(name + ";") }
    let symbolized = lines.filter {
      $0.contains(";self_hot ") || $0.contains(";self_warm ") || $0.contains(";self_cool ")
    }
    let samples = { (l: [Substring]) in Self.foldedTotal(l) }
    #expect(samples(symbolized) > 100, "demo lines:\n\(lines.joined(separator: "\n"))")
    // Its samples are symbolized, not [unknown] (ld.so's start-up before its maps are read may be).
    let unknown = lines.filter { $0.contains("[unknown]") }
    #expect(Double(samples(unknown)) <= 0.05 * Double(samples(lines)), "\(stderr)\n\(lines.joined(separator: "\n"))")
    #expect(try Self.profilePrograms() == 0)
  }

  /// The speedscope file validates against speedscope's schema and carries the demo's stacks.
  @Test func theSpeedscopeFileValidatesAgainstTheSchema() throws {
    let dir = try ToolRunner.tempDirectory("profile-speedscope")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/cpu.speedscope.json"
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "499", "--speedscope", file, "--", ToolRunner.demo, "selfshares", "500",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    #expect(SpeedscopeSchema.violations(data) == [])
    let text = String(decoding: data, as: UTF8.self)
    for f in Self.leaves { #expect(text.contains("\"name\":\"\(f)\"")) }
    #expect(text.contains("samples taken"), "the accounting travels in the file's name")
  }

  /// Five 200 ms sleeps in demo_nap show as 1 s (± 15%) off the CPU in demo_nap's stack, through tp_btf
  /// and through the sched_switch tracepoint older kernels have.
  @Test(arguments: [false, true])
  func offCPUTimeOfFiveNapsIsOneSecondInTheirStack(tracepoint: Bool) throws {
    let result = try ToolRunner.run(
      [ToolRunner.sonde, "profile", "--off-cpu", "--folded"] + (tracepoint ? ["--switch-tracepoint"] : [])
        + ["--", ToolRunner.demo, "naps", "5"])
    #expect(result.status == 0, "\(result.stderr)")
    let naps = result.stdout.split(separator: "\n").filter { $0.contains(";naps;demo_nap;") }
    let nanoseconds = Self.foldedTotal(naps)
    let seconds = Double(nanoseconds) / 1e9
    #expect(seconds >= 0.85 && seconds <= 1.15, "\(seconds) s in demo_nap:\n\(result.stdout.prefix(3000))")
    #expect(naps.contains { $0.contains("main;naps;demo_nap") }, "\(result.stdout.prefix(3000))")
    // The kernel stack ends in the scheduler, not in the BPF program that took it.
    #expect(!result.stdout.contains("bpf_prog_"), "\(result.stdout.prefix(3000))")
    #expect(try Self.profilePrograms() == 0)
  }

  /// The pprof file is read by Google's pprof (its -top lists the demo's functions with CPU time) and is
  /// structurally sound: string 0 empty, every referenced id present, one value per sample type. The
  /// accounting travels as comments, the binaries' build-ids on their mappings.
  @Test func thePprofFileIsReadByPprof() throws {
    let dir = try ToolRunner.tempDirectory("profile-pprof")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/cpu.pb.gz"
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "499", "--pprof", file, "--", ToolRunner.demo, "selfshares", "600",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    try Self.expectPprof(file, lists: Self.leaves, sampleTypes: ["samples/count", "cpu/nanoseconds"])
    let profile = try Perftools_Profiles_Profile(pprofFile: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
    let comments = profile.comment.compactMap { profile.string($0) }
    #expect(comments.contains { $0.contains("samples taken") } && comments.contains { $0.contains("lost") })
    let demo = profile.mapping.first { profile.string($0.filename)?.hasSuffix("/sonde-demo") == true }
    #expect(demo.map { profile.string($0.buildID)?.count == 40 } == true, "the demo's mapping carries its build-id")
    #expect(profile.period == 1_000_000_000 / 499)
    #expect(try Self.profilePrograms() == 0)
  }

  /// `sonde report --pprof` exports a perf-style recording the same way: perf record's own file here.
  @Test func reportExportsAPerfRecordingAsPprof() throws {
    let dir = try ToolRunner.tempDirectory("report-pprof")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let data = dir + "/perf.data"
    let rec = try ToolRunner.run([
      "perf", "record", "-F", "499", "-g", "-o", data, "--", ToolRunner.demo, "selfshares", "600",
    ])
    #expect(rec.status == 0, "\(rec.stderr)")
    let file = dir + "/report.pb.gz"
    let result = try ToolRunner.run([ToolRunner.sonde, "report", "-i", data, "--pprof", file])
    #expect(result.status == 0, "\(result.stderr)")
    try Self.expectPprof(file, lists: Self.leaves, sampleTypes: ["samples/count", "cpu/nanoseconds"])
  }

  /// -p samples that process only, and the profile ends when it exits (before --duration).
  @Test func aRunningProcessIsProfiledUntilItExits() throws {
    let demo = Process()
    demo.executableURL = URL(fileURLWithPath: ToolRunner.demo)
    demo.arguments = ["selfshares", "1500"]
    try demo.run()
    defer { demo.waitUntilExit() }
    let start = Date()
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-p", String(demo.processIdentifier), "--duration", "30", "--folded",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(Date().timeIntervalSince(start) < 20, "the profile should end when the process does")
    let lines = result.stdout.split(separator: "\n")
    #expect(
      !lines.isEmpty && lines.allSatisfy { $0.hasPrefix("sonde-demo;") },
      "\(result.stdout.prefix(2000))\n\(result.stderr)")
    for f in Self.leaves { #expect(result.stdout.contains(";\(f) ")) }
  }

  /// --cgroup samples the tasks of that cgroup only (the kernel filters: perf_event_open with the cgroup's fd).
  @Test func aCgroupIsProfiledAndNothingElse() throws {
    let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8).split(separator: "\n")
    let fields: [[Substring]] = mounts.map { $0.split(separator: " ") }
    let cgroup2: [Substring]? = fields.first { $0.count > 2 && $0[2] == "cgroup2" }
    let root = String(try #require(cgroup2, "no cgroup2 mount")[1])
    let name = "sonde-profile-test-\(getpid())"
    let dir = root + "/" + name
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
    defer { rmdir(dir) }
    let demo = Process()
    demo.executableURL = URL(fileURLWithPath: "/bin/sh")
    // The shell joins the cgroup, then becomes the demo.
    demo.arguments = ["-c", "echo $$ > \(dir)/cgroup.procs && exec \(ToolRunner.demo) selfshares 2500"]
    try demo.run()
    defer { demo.waitUntilExit() }
    usleep(300_000)
    let result = try ToolRunner.run([ToolRunner.sonde, "profile", "--cgroup", name, "--duration", "1", "--folded"])
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n")
    #expect(
      !lines.isEmpty && lines.allSatisfy { $0.hasPrefix("sonde-demo;") },
      "\(result.stdout.prefix(2000))\n\(result.stderr)")
    // The demo's own functions are there. Which of them is not this test's business: a CI run saw only
    // self_cool (70) and self_warm (28) in its second, so that run's rounds were far longer than 10 ms (the
    // demo's 2 ms calibration must have been off on the loaded machine); the shares have their own tests.
    #expect(["self_hot", "self_warm", "self_cool"].contains { result.stdout.contains(";\($0) ") })
  }

  /// Like perf record, a rate above kernel.perf_event_max_sample_rate is lowered to it with a warning.
  @Test func aRateAboveTheKernelLimitIsLoweredWithAWarning() throws {
    let limit = try #require(
      UInt64(
        try String(contentsOfFile: "/proc/sys/kernel/perf_event_max_sample_rate", encoding: .utf8)
          .trimmingCharacters(in: .whitespacesAndNewlines)))
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", String(limit + 1000), "--folded", "--", ToolRunner.demo, "spin", "100",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("warning: -F \(limit + 1000) is above kernel.perf_event_max_sample_rate"))
    #expect(result.stderr.contains("sampling at \(limit) Hz") || result.stderr.contains("at \(limit) Hz per CPU"))
    #expect(Self.samplesTaken(result.stderr) > 0, "\(result.stderr)")
    #expect(try Self.profilePrograms() == 0)
  }

  /// A process in another mount namespace, running a binary at a path only that namespace has (a tmpfs
  /// mounted inside it), is symbolized through /proc/PID/root.
  @Test(arguments: ["maps", "perf"])
  func aProcessInAnotherMountNamespaceIsSymbolized(transport: String) throws {
    let dir = try ToolRunner.tempDirectory("profile-mntns-\(transport)")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let hidden = dir + "/hidden"
    try FileManager.default.createDirectory(atPath: hidden, withIntermediateDirectories: false)
    let script =
      "mount -t tmpfs sonde-test \(hidden) && cp \(ToolRunner.demo) \(hidden)/demo-in-ns && exec \(hidden)/demo-in-ns selfshares 1000"
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "499", "--transport", transport, "--folded", "--", "unshare", "--mount",
      "--propagation", "private",
      "sh", "-c", script,
    ])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: hidden + "/demo-in-ns"), "the binary exists only in the namespace")
    let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("demo-in-ns;") }
    for f in Self.leaves {
      #expect(lines.contains { $0.contains(";\(f) ") }, "\(f) not symbolized:\n\(result.stdout.prefix(3000))")
    }
    #expect(try Self.profilePrograms() == 0)
  }

  /// A counts map of one entry: the samples that find it full are dropped in the kernel, counted, and printed.
  @Test func aFullCountsMapCountsItsDrops() throws {
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "999", "--map-size", "1", "--interval", "10", "--folded", "--",
      ToolRunner.demo, "selfshares", "600",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let part = result.stderr.split(separator: "\n").flatMap { $0.split(separator: ";") }.first {
      $0.contains("counts map full")
    }
    let dropped = part.flatMap { p in p.split(separator: " ").compactMap { Int($0) }.first } ?? 0
    #expect(dropped > 100, "\(result.stderr)")
    let folded = Self.foldedTotal(result.stdout.split(separator: "\n"))
    #expect(folded + dropped == Self.samplesTaken(result.stderr), "\(result.stderr)")
    #expect(try Self.profilePrograms() == 0)
  }

  @Test func aMissingPidIsAClearError() throws {
    let result = try ToolRunner.run([ToolRunner.sonde, "profile", "-p", "999999", "--duration", "1"])
    #expect(result.status != 0)
    #expect(result.stderr.contains("no such process 999999"), "\(result.stderr)")
    #expect(try Self.profilePrograms() == 0)
  }

  /// A stack map with room for one stack keeps it and counts every other stack it had no room for; the
  /// samples stay in the profile, without their stacks.
  @Test func aFullStackMapCountsItsDrops() throws {
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "999", "--stack-map-size", "1", "--folded", "--", ToolRunner.demo,
      "selfshares", "600",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let dropped = result.stderr.split(separator: "\n").first { $0.contains("stack map full") }
    let lost = dropped.flatMap { line in line.split(separator: " ").compactMap { Int($0) }.first } ?? 0
    #expect(lost > 50, "\(result.stderr)")
    let folded = Self.foldedTotal(result.stdout.split(separator: "\n"))
    let taken = Self.samplesTaken(result.stderr)
    #expect(taken > 0 && folded == taken, "\(result.stderr)")
    #expect(try Self.profilePrograms() == 0)
  }

  /// Thousands of distinct stacks (the demo's call tree has 262144) in a map with room for 8192 all keep
  /// their frames: stacks are keyed by a 63-bit hash of their frames, so two stacks never fight over one
  /// slot. (A BPF stack map files them by hash modulo its size: about a fifth of 4000 stacks would be lost
  /// to -EEXIST in 8192 buckets.)
  @Test func distinctStacksBelowTheMapSizeAreNeverLost() throws {
    let result = try ToolRunner.run([
      ToolRunner.sonde, "profile", "-F", "999", "--folded", "--", ToolRunner.demo, "bench-tree", "2000",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let stacks = result.stdout.split(separator: "\n").filter { $0.contains(";tree_") }
    #expect(stacks.count > 1000, "\(result.stderr)")
    // (A stack the kernel could not read, -EFAULT, is another loss, rare and not the map's doing.)
    for loss in ["stack map full", "collisions", "were gone"] {
      #expect(!result.stderr.contains(loss), "\(result.stderr)")
    }
  }

  @Test func ctrlCWritesTheFlameGraph() throws {
    let dir = try ToolRunner.tempDirectory("profile-sigint")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let svg = dir + "/cpu.svg"
    let profiler = try Background([ToolRunner.sonde, "profile", "-a", "-F", "199", "--flamegraph", svg])
    try profiler.waitForStart()
    _ = try ToolRunner.run([ToolRunner.demo, "spin", "300"])
    kill(profiler.pid, SIGINT)
    let (status, _, stderr) = try profiler.finish()
    #expect(status == 0, "\(stderr)")
    // Well-formed, each frame as wide as its share, and the spin the profile saw is in it.
    let check = try ToolRunner.checkFlameGraph(svg)
    #expect(check.frames > 0 && check.misdrawn == 0)
    #expect(check.names.contains("burn_for"), "\(check.names.sorted().prefix(50))")
    #expect(stderr.contains("samples taken"), "\(stderr)")
    #expect(try Self.profilePrograms() == 0)
  }

  // MARK: Helpers

  /// Checks a pprof file with Google's pprof (-top names each of `functions`) and structurally, and that its
  /// sample types are `sampleTypes` ("type/unit").
  static func expectPprof(_ path: String, lists functions: [String], sampleTypes: [String]) throws {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    #expect(bytes.starts(with: [0x1f, 0x8b]), "a .pb.gz file is gzipped")
    let profile = try Perftools_Profiles_Profile(pprofFile: bytes)
    #expect(PprofStructure.problems(profile) == [])
    let types = profile.sampleType.map { "\(profile.string($0.type) ?? "?")/\(profile.string($0.unit) ?? "?")" }
    #expect(types == sampleTypes)
    #expect(!profile.sample.isEmpty)
    let top = try ToolRunner.run(["pprof", "-top", "-nodecount=100", path])
    #expect(top.status == 0, "\(top.stderr)")
    for f in functions { #expect(top.stdout.contains(" \(f)\n"), "pprof -top lacks \(f):\n\(top.stdout)") }
  }

  /// The summed counts (or weights) of folded lines: the number after each line's last space.
  static func foldedTotal(_ lines: [Substring]) -> Int {
    lines.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
  }

  /// Share of each leaf (last frame) among all folded samples, in percent.
  static func leafShares(_ folded: String) -> [String: Double] {
    var counts: [String: Int] = [:]
    var total = 0
    for line in folded.split(separator: "\n") {
      guard let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]) else { continue }
      let leaf = line[..<space].split(separator: ";").last.map(String.init) ?? ""
      counts[leaf, default: 0] += n
      total += n
    }
    return counts.mapValues { 100 * Double($0) / Double(max(total, 1)) }
  }

  /// `shares` of the three leaves rescaled to sum to 100.
  static func amongLeaves(_ shares: [String: Double]) -> [String: Double] {
    let total = leaves.reduce(0) { $0 + (shares[$1] ?? 0) }
    return Dictionary(uniqueKeysWithValues: leaves.map { ($0, 100 * (shares[$0] ?? 0) / max(total, 1e-9)) })
  }

  /// "N samples taken" from the accounting line.
  static func samplesTaken(_ stderr: String) -> Int {
    guard let line = stderr.split(separator: "\n").first(where: { $0.contains("samples taken") }) else { return -1 }
    return line.split(separator: " ").compactMap { Int($0) }.first ?? -1
  }

  /// Sonde profiler programs (or others named `prefix`) left in the kernel with no live process holding them (bpftool names them by
  /// their first 15 characters). Programs other tests' profilers hold while they run (the overhead bench,
  /// the off-CPU preset) are not left behind: a program, or a link to it, held by a live process's
  /// descriptor shows in that process's fdinfo as prog_id.
  static func profilePrograms(named prefix: String = "sonde_profile") throws -> Int {
    let list = try ToolRunner.run(["bpftool", "prog", "list"])
    let ids = list.stdout.split(separator: "\n").filter { $0.contains(prefix) }.compactMap {
      Int($0.split(separator: ":").first ?? "")
    }
    guard !ids.isEmpty else { return 0 }
    var held: Set<Int> = []
    let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for pid in processes where Int(pid) != nil {
      for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fdinfo")) ?? [] {
        guard let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8) else { continue }
        for line in info.split(separator: "\n") where line.hasPrefix("prog_id:") {
          if let id = Int(line.dropFirst(8).trimmingCharacters(in: .whitespaces)) { held.insert(id) }
        }
      }
    }
    return ids.filter { !held.contains($0) }.count
  }

  /// `sonde profile` running in the background, its stderr in a file so the test can wait for its start line.
  final class Background: @unchecked Sendable {
    let process = Process()
    let out = Pipe()
    let errPath: String
    var pid: Int32 { process.processIdentifier }
    nonisolated(unsafe) var stdoutData = Data()
    let reader = DispatchGroup()

    init(_ argv: [String]) throws {
      errPath = NSTemporaryDirectory() + "sonde-profile-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).err"
      _ = FileManager.default.createFile(atPath: errPath, contents: nil)
      process.executableURL = URL(fileURLWithPath: argv[0])
      process.arguments = Array(argv.dropFirst())
      process.standardOutput = out
      process.standardError = FileHandle(forWritingAtPath: errPath)
      try process.run()
      reader.enter()
      DispatchQueue.global().async { [self] in
        stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        reader.leave()
      }
    }

    /// Waits (up to 30 s) for the "sampling … (Ctrl-C ends it)" line: the programs are attached.
    func waitForStart() throws {
      for _ in 0..<300 {
        if let text = try? String(contentsOfFile: errPath, encoding: .utf8), text.contains("Ctrl-C ends it") { return }
        if !process.isRunning { break }
        usleep(100_000)
      }
      Issue.record("sonde profile did not start: \((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")")
    }

    /// Waits (up to 60 s, then kills it) for the exit; returns status, stdout and stderr.
    func finish() throws -> (Int32, String, String) {
      var polls = 0
      while process.isRunning && polls < 600 {
        usleep(100_000)
        polls += 1
      }
      if process.isRunning {
        kill(pid, SIGKILL)
        Issue.record("sonde profile did not stop within 60 s")
      }
      process.waitUntilExit()
      reader.wait()
      let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
      try? FileManager.default.removeItem(atPath: errPath)
      return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), stderr)
    }
  }
}
