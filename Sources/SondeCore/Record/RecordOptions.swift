import PerfEvents

/// What `sonde record` should sample, where, and where to write it.
public struct RecordOptions: Sendable {
  /// Whom to sample.
  public enum Target: Sendable, Hashable {
    /// Fork this command (argv), enable on exec, follow its children.
    case command([String])
    /// Existing processes (all their threads).
    case processes([Int32])
    /// Existing threads.
    case threads([Int32])
    /// Every task on the CPUs (all online CPUs, or `cpus`).
    case systemWide
  }

  /// Event names in perf syntax; the first one also tracks mmap/comm/task side-band records.
  public var events: [String] = ["cpu-clock"]
  /// Samples per second (-F); ignored when `period` is set.
  public var frequency: UInt64? = 4000
  /// Events per sample (-c).
  public var period: UInt64?
  public var callGraph: CallGraphMode = .none
  public var target: Target = .systemWide
  /// Restrict to these CPUs (-C).
  public var cpus: [Int32]?
  /// Output path (-o).
  public var output: String = "perf.data"
  /// Stop after this many seconds (--duration).
  public var duration: Double?
  /// Data pages per ring (-m), a power of two; nil lets the recorder size the rings (`RecordRings.defaultDataPages`).
  public var dataPages: Int?
  /// Wake the reader after this many bytes (0: the kernel's default of half the ring).
  public var wakeupWatermark: UInt32 = 0
  /// Flight recorder: backward (overwrite) rings that keep only the newest data, read once at the end.
  public var overwrite = false
  /// With a system-wide target (`-a -- CMD`): a command to run while recording; the recording ends when it does.
  public var workload: [String]?
  /// The command line stored in the file's cmdline feature.
  public var commandLine: [String] = []

  public init() {}

  /// The ring size `record` uses without -m, for `cpus` rings (2 MiB per CPU within 32 MiB, at least 512 KiB).
  public static func defaultRingPages(cpus: Int) -> Int { RecordRings.defaultDataPages(cpus: cpus) }
}

/// What a recording produced.
public struct RecordResult: Sendable {
  public var output: String
  public var samples: Int
  /// Samples the kernel dropped because a ring was full (sum of PERF_RECORD_LOST counts).
  public var lost: UInt64
  /// PERF_RECORD_LOST_SAMPLES counts (samples dropped for other reasons).
  public var lostSamples: UInt64
  public var throttles: Int
  public var records: Int
  public var bytesWritten: UInt64
  public var durationSeconds: Double
  /// Exit code of the forked command (128 + signal when killed), when there was one.
  public var commandExitCode: Int32?
  /// Events the kernel let sample user space only (perf's `:u` fallback under perf_event_paranoid ≥ 2).
  public var userSpaceOnlyEvents: [String] = []
  /// Whether Sonde ended the command itself (at --duration), so its exit code is not the command's own.
  public var commandStoppedBySonde = false
  /// Rings opened (one per CPU, or per CPU per thread group owner).
  public var rings: Int
}
