/// The benchmark's arithmetic, apart from any measuring so it can be checked on made-up numbers: each
/// round's loss against the baseline of the same round, the cost above the floor of the same round, and
/// the spread over rounds.
public enum OverheadStatistics {
  /// One row per (workload, frequency, configuration) present in `runs`, in the order first seen.
  public static func rows(_ runs: [OverheadRun]) -> [OverheadRow] {
    struct Group: Hashable {
      var workload: BenchWorkload
      var frequency: UInt64
      var configuration: OverheadConfiguration
    }
    struct Round: Hashable {
      var workload: BenchWorkload
      var frequency: UInt64
      var round: Int
    }
    var order: [Group] = []
    var byGroup: [Group: [OverheadRun]] = [:]
    var baseline: [Round: Double] = [:]
    var floor: [Round: Double] = [:]
    for run in runs {
      let group = Group(workload: run.workload, frequency: run.frequency, configuration: run.configuration)
      if byGroup[group] == nil { order.append(group) }
      byGroup[group, default: []].append(run)
      guard run.failure == nil else { continue }
      let round = Round(workload: run.workload, frequency: run.frequency, round: run.round)
      if run.configuration == .baseline { baseline[round] = run.throughput }
    }
    for run in runs where run.configuration == .floor && run.failure == nil {
      let round = Round(workload: run.workload, frequency: run.frequency, round: run.round)
      if let base = baseline[round] { floor[round] = lossPercent(run.throughput, baseline: base) }
    }
    return order.map { group in
      let all = byGroup[group] ?? []
      let good = all.filter { $0.failure == nil }
      var losses: [Double] = []
      var above: [Double] = []
      for run in good {
        let round = Round(workload: run.workload, frequency: run.frequency, round: run.round)
        guard let base = baseline[round] else { continue }
        let loss = lossPercent(run.throughput, baseline: base)
        losses.append(loss)
        if let floorLoss = floor[round] { above.append(loss - floorLoss) }
      }
      let cpu = good.compactMap { run in
        run.profilerCPUNanoseconds.map { percentOfCore(nanoseconds: $0, seconds: run.windowSeconds) }
      }
      let bpf = good.compactMap { run in
        run.bpf.map { percentOfCore(nanoseconds: $0.runNanoseconds, seconds: run.windowSeconds) }
      }
      let bpfRuns = good.compactMap(\.bpf)
      let runCount = bpfRuns.reduce(0.0) { $0 + Double($1.runCount) }
      let runTime = bpfRuns.reduce(0.0) { $0 + Double($1.runNanoseconds) }
      return OverheadRow(
        workload: group.workload, frequency: group.frequency, configuration: group.configuration,
        rounds: all.count, failedRounds: all.count - good.count,
        throughput: Spread(good.map(\.throughput)), stealPercent: Spread(good.map(\.stealPercent)),
        lossPercent: group.configuration == .baseline ? Spread(median: 0, min: 0, max: 0) : Spread(losses),
        aboveFloorPoints: group.configuration == .baseline ? nil : Spread(above),
        profilerCPUPercent: Spread(cpu), bpfCPUPercent: Spread(bpf),
        bpfNanosecondsPerRun: runCount > 0 ? runTime / runCount : nil,
        samples: Spread(good.compactMap { $0.samples.map { Double($0) } })?.median,
        lost: Spread(good.compactMap { $0.lost.map { Double($0) } })?.median,
        bytesFromKernel: Spread(good.compactMap { $0.bytesFromKernel.map { Double($0) } })?.median,
        aggregationRatio: Spread(good.compactMap(\.aggregationRatio))?.median,
        peakResidentBytes: good.compactMap(\.peakResidentBytes).max())
    }
  }

  /// Percent of `baseline` throughput not reached (negative when faster than the baseline: noise).
  public static func lossPercent(_ throughput: Double, baseline: Double) -> Double {
    baseline > 0 ? (1 - throughput / baseline) * 100 : 0
  }

  /// `nanoseconds` of CPU over `seconds` of wall clock, as percent of one core.
  public static func percentOfCore(nanoseconds: UInt64, seconds: Double) -> Double {
    seconds > 0 ? Double(nanoseconds) / (seconds * 1e9) * 100 : 0
  }
}
