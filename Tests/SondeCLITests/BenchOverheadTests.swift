import Foundation
import FoundationXML
import Testing
import SondeTestSupport

/// Issue 13's acceptance for `sonde bench overhead --quick`: every configuration on both workloads ran
/// and produced a throughput figure and its samples, the chart names them, and the machine is left as it
/// was (kernel.bpf_stats_enabled, no profiler or BPF program behind). The figures themselves are not
/// checked here: a quick run on a test machine running the rest of the suite is a check of the harness,
/// and the harness's arithmetic is checked on made-up numbers in OverheadStatisticsTests.
@Suite(.serialized)
struct BenchOverheadTests {
  static let configurations = [
    "baseline", "floor", "sonde-profile-maps", "sonde-profile-ringbuf", "sonde-profile-perf", "sonde-profile-dwarf",
    "sonde-record-g",
    "perf-record-g", "perf-record-dwarf", "bpftrace",
  ]

  @Test func quickRunMeasuresEveryConfigurationOnBothWorkloads() throws {
    let dir = try ToolRunner.tempDirectory("bench-overhead")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let statsBefore = try String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8)
    let start = Date()
    let plot = dir + "/overhead.svg"
    let out = try ToolRunner.run([ToolRunner.sonde, "bench", "overhead", "--quick", "--json", "--plot", plot])
    #expect(out.status == 0, "\(out.stderr)")
    // --quick is the CI-sized run (about two minutes). How long it takes beside the rest of the suite is
    // not a specification (a CI took 202 s under load); this bound only catches a run that hangs.
    #expect(Date().timeIntervalSince(start) < 600, "took \(Date().timeIntervalSince(start)) s")

    let json = try #require(
      try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "not JSON: \(out.stdout)")
    #expect((json["skipped"] as? [String: Any])?.isEmpty == true, "skipped: \(json["skipped"] ?? "")")
    let rows = try #require(json["configurations"] as? [[String: Any]])
    for workload in ["flat", "tree"] {
      for name in Self.configurations {
        let row = try #require(
          rows.first { $0["configuration"] as? String == name && $0["workload"] as? String == workload },
          "no \(name) row for \(workload)")
        #expect(row["failed_rounds"] as? Int == 0, "\(name) \(workload) failed:\n\(out.stderr)")
        let throughput = try #require((row["throughput"] as? [String: Any])?["median"] as? Double)
        #expect(throughput > 0, "\(name) \(workload)")
        if name != "baseline" {
          let samples = try #require(row["samples"] as? Double, "\(name) \(workload) has no samples")
          #expect(samples > 0, "\(name) \(workload)")
          #expect((row["lost"] as? Double ?? 0) >= 0)
          #expect(row["loss_percent"] is [String: Any] && row["above_floor_points"] is [String: Any])
        }
        if Self.configurations.dropFirst(2).contains(name) {
          #expect(row["profiler_cpu_percent"] is [String: Any], "\(name) has no profiler CPU")
        }
      }
    }
    // The maps transport drained aggregates: fewer keys than samples on the flat workload.
    let maps = try #require(
      rows.first { $0["configuration"] as? String == "sonde-profile-maps" && $0["workload"] as? String == "flat" })
    #expect((maps["aggregation_ratio"] as? Double ?? 0) > 1)
    #expect((maps["bytes_from_kernel"] as? Double ?? 0) > 0)
    // Every BPF configuration has its in-kernel run time (the bench turned bpf_stats on for the run).
    for name in ["floor", "sonde-profile-maps", "sonde-profile-ringbuf", "sonde-profile-dwarf", "bpftrace"] {
      let row = try #require(rows.first { $0["configuration"] as? String == name })
      #expect((row["bpf_ns_per_run"] as? Double ?? 0) > 0, "\(name) has no BPF run time")
    }

    let svg = try String(contentsOfFile: plot, encoding: .utf8)
    #expect(svg.hasPrefix("<?xml") && svg.contains("</svg>"))
    for name in Self.configurations.dropFirst() { #expect(svg.contains(">\(name)<"), "\(name) not in the chart") }
    #expect(XMLParser(data: Data(svg.utf8)).parse(), "the chart is not well-formed XML")

    let statsAfter = try String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8)
    #expect(statsAfter == statsBefore)
    #expect(try ProfileAcceptanceTests.profilePrograms(named: "sonde_bench") == 0)
    #expect(try ProfileAcceptanceTests.profilePrograms() == 0)
  }

  @Test func badOptionsAndAMissingWorkloadAreClearErrors() throws {
    let zero = try ToolRunner.run([ToolRunner.sonde, "bench", "overhead", "--freq", "0"])
    #expect(zero.status != 0 && zero.stderr.contains("--freq"), "\(zero.stderr)")
    let shape = try ToolRunner.run([ToolRunner.sonde, "bench", "overhead", "--workload", "spiral"])
    #expect(shape.status != 0 && shape.stderr.contains("flat, tree"), "\(shape.stderr)")
    let missing = try ToolRunner.run([
      ToolRunner.sonde, "bench", "overhead", "--quick", "--workload-binary", "/nonexistent/sonde-demo",
    ])
    #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/sonde-demo"), "\(missing.stderr)")
  }
}
