import Testing

@testable import SondeBench

/// The benchmark's arithmetic on made-up measurements whose answers are worked out by hand.
@Suite struct OverheadStatisticsTests {
  func run(
    _ configuration: OverheadConfiguration, round: Int, units: UInt64, cpu: UInt64? = nil, failure: String? = nil
  ) -> OverheadRun {
    var r = OverheadRun(
      workload: .flat, frequency: 999, configuration: configuration, round: round, units: units,
      workloadSeconds: 2, windowSeconds: 2)
    r.profilerCPUNanoseconds = cpu
    r.failure = failure
    if configuration != .baseline {
      r.samples = units / 10
      r.lost = UInt64(round)
      r.bytesFromKernel = 1000 * UInt64(round)
    }
    return r
  }

  @Test func spreadIsMedianMinAndMax() throws {
    let odd = try #require(Spread([5, 1, 3]))
    #expect(odd.median == 3 && odd.min == 1 && odd.max == 5)
    let even = try #require(Spread([4, 1, 3, 2]))
    #expect(even.median == 2.5 && even.halfRange == 1.5)
    #expect(Spread([]) == nil)
    #expect(Spread([.nan, 2])?.median == 2)
  }

  @Test func lossIsPairedWithTheBaselineOfTheSameRound() throws {
    // Round 1: baseline 1000 units, floor 950 (5% loss), maps 940 (6%).
    // Round 2: the machine is 10% slower for everyone: baseline 900, floor 855 (5%), maps 828 (8%).
    let runs = [
      run(.baseline, round: 1, units: 1000), run(.floor, round: 1, units: 950),
      run(.sondeMaps, round: 1, units: 940, cpu: 2_000_000),
      run(.baseline, round: 2, units: 900), run(.floor, round: 2, units: 855),
      run(.sondeMaps, round: 2, units: 828, cpu: 6_000_000),
    ]
    let rows = OverheadStatistics.rows(runs)
    #expect(rows.map(\.configuration) == [.baseline, .floor, .sondeMaps])
    let maps = try #require(rows.last)
    let loss = try #require(maps.lossPercent)
    #expect(abs(loss.min - 6) < 1e-9 && abs(loss.max - 8) < 1e-9 && abs(loss.median - 7) < 1e-9)
    let above = try #require(maps.aboveFloorPoints)
    #expect(abs(above.min - 1) < 1e-9 && abs(above.max - 3) < 1e-9)
    // 2 ms and 6 ms of CPU over 2 s windows: 0.1% and 0.3% of one core.
    let cpu = try #require(maps.profilerCPUPercent)
    #expect(abs(cpu.median - 0.2) < 1e-9 && abs(cpu.min - 0.1) < 1e-9)
    #expect(abs(try #require(maps.throughput).median - (470 + 414) / 2) < 1e-9)
    #expect(rows[0].lossPercent?.median == 0 && rows[0].aboveFloorPoints == nil)
    // Counts are medians over the rounds: samples 94 and 82 → 88, lost 1 and 2 → 1.5.
    #expect(maps.samples == 88 && maps.lost == 1.5 && maps.bytesFromKernel == 1500)
    #expect(rows[0].samples == nil)
    let floorAbove = try #require(rows[1].aboveFloorPoints)
    #expect(abs(floorAbove.median) < 1e-9)
  }

  @Test func throughputIsPerCPUSecondLeftAfterSteal() {
    // 2 CPUs for 2 s is 4 CPU-seconds; with 1 stolen, 3000 units were done in 3: 1000 per CPU-second, so
    // 2000 units/s for the machine had nothing been stolen (raw: 1500 units/s).
    var r = run(.baseline, round: 1, units: 3000)
    r.cpus = 2
    r.stealSeconds = 1
    #expect(abs(r.throughput - 2000) < 1e-9 && abs(r.rawThroughput - 1500) < 1e-9)
    #expect(abs(r.stealPercent - 25) < 1e-9)
    // A steal reading beyond the window (a clock step) leaves at least a tenth of the time.
    r.stealSeconds = 100
    #expect(r.throughput.isFinite && r.throughput > 0)
  }

  @Test func failedRoundsAreCountedAndLeftOut() throws {
    let runs = [
      run(.baseline, round: 1, units: 1000), run(.floor, round: 1, units: 1000),
      run(.bpftrace, round: 1, units: 0, failure: "exited"),
      run(.baseline, round: 2, units: 1000), run(.floor, round: 2, units: 1000),
      run(.bpftrace, round: 2, units: 900),
    ]
    let row = try #require(OverheadStatistics.rows(runs).last)
    #expect(row.rounds == 2 && row.failedRounds == 1)
    #expect(abs(try #require(row.lossPercent).median - 10) < 1e-9)
  }

  @Test func aRoundWithoutItsBaselineHasNoLoss() throws {
    let runs = [run(.floor, round: 1, units: 900), run(.baseline, round: 2, units: 1000)]
    let floor = try #require(OverheadStatistics.rows(runs).first)
    #expect(floor.lossPercent == nil)
    #expect(OverheadStatistics.lossPercent(1, baseline: 0) == 0)
    #expect(OverheadStatistics.lossPercent(1100, baseline: 1000) < 0)
  }

  @Test func bpfTimePerRunAndShareOfACore() throws {
    var a = run(.floor, round: 1, units: 1)
    a.bpf = BPFRunStats(programs: 1, runNanoseconds: 20_000_000, runCount: 200_000)
    var b = run(.floor, round: 2, units: 1)
    b.bpf = BPFRunStats(programs: 1, runNanoseconds: 60_000_000, runCount: 200_000)
    let row = try #require(OverheadStatistics.rows([a, b]).first)
    #expect(row.bpfNanosecondsPerRun == 200)
    // 20 ms and 60 ms over 2 s: 1% and 3% of one core.
    #expect(row.bpfCPUPercent?.median == 2)
    #expect(
      BPFRunStats(runNanoseconds: 5, runCount: 1).since(BPFRunStats(runNanoseconds: 9, runCount: 0)).runNanoseconds == 0
    )
  }

  @Test func flatJSONNumbersAndBpftraceCounts() {
    let fields = ProfilerCommand.flatJSONNumbers(#"{"samples":120,"lost":0,"aggregation_ratio":5.250,"name":"x"}"#)
    #expect(fields["samples"] == "120" && fields["lost"] == "0" && fields["aggregation_ratio"] == "5.250")
    #expect(fields["name"] == nil)
    // bpftrace 0.17's layout for @[ustack, kstack]: the user frames, ", " and the kernel frames, "]: N".
    let output =
      "Attaching 1 probe...\n\n@[\n    main+4\n    f+1\n, \n    do_syscall_64+9\n]: 7\n@[\n    g+2\n, ]: 35\n"
    #expect(ProfilerCommand.bpftraceSampleCount(output) == 42)
    #expect(ProfilerCommand.bpftraceSampleCount("Attaching 1 probe...\n") == nil)
    // The sample counter wins over the stack map, which bpftrace may not have printed whole.
    #expect(ProfilerCommand.bpftraceSampleCount("Attaching 1 probe...\n@samples: 4065\n@[\n]: 7\n") == 4065)
  }
}
