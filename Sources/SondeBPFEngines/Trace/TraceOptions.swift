/// What one `sonde trace` run attaches, what it does on each hit, whom it watches, and for how long.
public struct TraceOptions: Sendable {
  /// What a count is keyed by besides the probe (`--by`).
  public enum CountKey: Sendable, Hashable {
    case probe, comm, pid, tid
    /// The user stack (`stack`) or the kernel stack (`kstack`) of each hit.
    case userStack, kernelStack
    /// The probe's argument N (0-based): a register of a uprobe/kprobe, the Nth field of a tracepoint.
    case argument(Int)
    /// The return value (uretprobe, kretprobe, fexit; `ret` of a sys_exit tracepoint).
    case returnValue

    /// Parses `--by` (`comm`, `pid`, `tid`, `probe`, `stack`, `kstack`, `argN`, `retval`).
    public static func parse(_ text: String) -> CountKey? {
      switch text {
      case "probe": .probe
      case "comm": .comm
      case "pid": .pid
      case "tid": .tid
      case "stack", "ustack": .userStack
      case "kstack": .kernelStack
      case "retval", "ret": .returnValue
      default:
        text.hasPrefix("arg") ? Int(text.dropFirst(3)).flatMap { (0..<6).contains($0) ? .argument($0) : nil } : nil
      }
    }
  }

  /// How latency histograms are grouped (`--by` of `latency`).
  public enum LatencyGroup: String, Sendable, Hashable, CaseIterable {
    case nothing = "none"
    case probe, comm, pid
  }

  /// The histogram's buckets and unit.
  public struct Histogram: Sendable, Hashable {
    public var unit: Unit = .microseconds
    /// log2 buckets when nil.
    public var linear: Linear?

    /// Buckets of `step` units from `low` (inclusive) to `high` (exclusive), with one bucket below and one
    /// at or above the range (`--linear MIN,MAX,STEP`, as bpftrace's lhist).
    public struct Linear: Sendable, Hashable {
      public var low: UInt64
      public var high: UInt64
      public var step: UInt64

      public init(low: UInt64, high: UInt64, step: UInt64) {
        self.low = low
        self.high = high
        self.step = step
      }
    }

    public init(unit: Unit = .microseconds, linear: Linear? = nil) {
      self.unit = unit
      self.linear = linear
    }
  }

  /// A time unit of histograms.
  public enum Unit: String, Sendable, Hashable, CaseIterable {
    case nanoseconds = "ns"
    case microseconds = "us"
    case milliseconds = "ms"
    case seconds = "s"

    public var nanoseconds: UInt64 {
      switch self {
      case .nanoseconds: 1
      case .microseconds: 1000
      case .milliseconds: 1_000_000
      case .seconds: 1_000_000_000
      }
    }
  }

  /// A probe and its part in latency mode.
  public struct Probe: Sendable, Hashable {
    public var spec: ProbeSpec
    /// An exit probe ends the interval its thread's last entry began (latency mode).
    public var isExit: Bool
    /// Latency mode, tracepoints: up to two fields of the record that pair an entry with its exit instead
    /// of the current thread (runqlat pairs sched_wakeup's `pid` with sched_switch's `next_pid`).
    public var pairFields: [String]

    public init(_ spec: ProbeSpec, isExit: Bool = false, pairFields: [String] = []) {
      self.spec = spec
      self.isExit = isExit
      self.pairFields = pairFields
    }
  }

  /// Whom the probes count: every process, chosen ones (and their forks), or a command Sonde starts.
  public enum Target: Sendable, Hashable {
    case everyone
    case processes([Int32])
    case command([String])
  }

  public var probes: [Probe] = []
  /// Count hits keyed by this (nil: no counting).
  public var count: CountKey?
  /// Pair entries with exits into histograms grouped by this (nil: no latency).
  public var latency: LatencyGroup?
  public var histogram = Histogram()
  /// Send each hit through the ringbuf (`events`).
  public var events = false

  public var target: Target = .everyone
  /// Only tasks with this command name (in the kernel, before anything is recorded).
  public var comm: String?
  /// Only tasks of this cgroup v2 directory.
  public var cgroup: String?
  /// Stop after this many seconds; nil: until the command or the processes exit, or the stop token.
  public var duration: Double?
  /// Report (and, for counts, reset) every this many seconds; nil: once at the end.
  public var interval: Double?

  /// Distinct count keys and histogram buckets the maps hold.
  public var mapEntries: UInt32 = 10240
  /// Distinct stacks `--by stack/kstack` keeps.
  public var stackEntries: UInt32 = 8192
  /// Bytes of the event ringbuf (a power of two).
  public var ringbufBytes: UInt32 = 8 << 20

  public init() {}
}
