import SondeSystem

/// The reference workloads of the overhead benchmark (sonde-demo's bench modes): the same busy work per CPU,
/// in one stack or spread over 262144 distinct stacks.
public enum BenchWorkload: String, CaseIterable, Sendable {
  /// One stack per thread: in-kernel aggregation's best case.
  case flat
  /// Random paths down a call tree: nearly every sample is a new stack, aggregation's worst case.
  case tree
}

/// One way of running the workload: alone, under the sampling floor, or under a profiler.
public enum OverheadConfiguration: String, CaseIterable, Sendable {
  /// The workload alone.
  case baseline
  /// The same per-CPU cpu-clock events with a BPF program that only counts (bench.bpf.c).
  case floor
  case sondeMaps = "sonde-profile-maps"
  case sondeRingbuf = "sonde-profile-ringbuf"
  case sondePerf = "sonde-profile-perf"
  /// The maps transport with user stacks unwound in the kernel from .eh_frame tables (--unwind dwarf).
  case sondeDwarf = "sonde-profile-dwarf"
  case sondeRecord = "sonde-record-g"
  case perfRecord = "perf-record-g"
  case perfRecordDwarf = "perf-record-dwarf"
  case bpftrace
  /// `sonde agent`: the continuous profiler with its store and HTTP server, one-second windows.
  case sondeAgent = "sonde-agent"

  /// The command it stands for, as a user would type it (F is the frequency).
  public var title: String {
    switch self {
    case .baseline: "no profiler"
    case .floor: "floor: per-CPU cpu-clock + counting BPF program"
    case .sondeMaps: "sonde profile -a --transport maps"
    case .sondeRingbuf: "sonde profile -a --transport ringbuf"
    case .sondePerf: "sonde profile -a --transport perf"
    case .sondeDwarf: "sonde profile -a --unwind dwarf"
    case .sondeRecord: "sonde record -a -g"
    case .perfRecord: "perf record -a -g"
    case .perfRecordDwarf: "perf record -a --call-graph dwarf"
    case .bpftrace: "bpftrace profile:hz:F { @[ustack, kstack] = count(); @samples = count(); }"
    case .sondeAgent: "sonde agent -F F --window 1"
    }
  }

  /// The peer tool it needs installed (nil: Sonde's own).
  public var peerTool: String? {
    switch self {
    case .perfRecord, .perfRecordDwarf: "perf"
    case .bpftrace: "bpftrace"
    default: nil
    }
  }

  /// Whether a profiler process runs beside the workload (baseline and floor have none).
  public var hasProfilerProcess: Bool { self != .baseline && self != .floor }
}

/// What `sonde bench overhead` runs: every configuration on every workload at every frequency, `rounds`
/// times, interleaved so slow drifts of the machine (thermal, other tenants) spread over all of them.
public struct OverheadOptions: Sendable {
  public var frequencies: [UInt64] = [99, 999, 4999]
  public var rounds = 5
  /// Seconds the workload runs in each measurement (the window the figures cover).
  public var duration = 5.0
  /// Seconds between a profiler being attached and the window opening (its start-up is not steady state).
  public var settle = 1.0
  public var workloads: [BenchWorkload] = BenchWorkload.allCases
  public var configurations: [OverheadConfiguration] = OverheadConfiguration.allCases
  /// The sonde executable the profiler configurations run.
  public var sondeExecutable: String
  /// The executable with the bench-flat/bench-tree modes (sonde-demo).
  public var workloadExecutable: String
  /// Where profilers write their files (removed after each measurement). tmpfs by default: a recorder's
  /// file written back to disk later would load whichever measurement runs then, not its own.
  public var scratchDirectory = fileExists("/dev/shm") ? "/dev/shm" : "/tmp"

  public init(sondeExecutable: String, workloadExecutable: String) {
    self.sondeExecutable = sondeExecutable
    self.workloadExecutable = workloadExecutable
  }

  /// The CI-sized run: one round of every configuration on both workloads at 999 Hz, 1.5 s windows (each
  /// configuration also pays its profiler's start-up and final output, outside the window). The settling
  /// half second stays: on a loaded machine bpftrace holds its perf events a while before it is ready to
  /// print its map at SIGINT (with 0.3 s it once printed nothing).
  public mutating func makeQuick() {
    frequencies = [999]
    rounds = 1
    duration = 1.5
    settle = 0.5
  }
}
