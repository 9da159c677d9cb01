import BPF

/// What `sonde profile` (and the library's `BPFProfiler`) samples, how often, and how samples reach user
/// space.
public struct ProfilerOptions: Sendable {
  /// Who is profiled.
  public enum Target: Sendable, Hashable {
    /// Every task on every online CPU (-a, the default).
    case systemWide
    /// These processes and the processes they fork (-p).
    case processes([Int32])
    /// Fork this command (argv), profile it and its descendants from exec until it exits.
    case command([String])
    /// The tasks of one cgroup v2 directory (--cgroup), filtered by the kernel.
    case cgroup(String)

    /// Whether samples are kept only for chosen processes (and the processes they fork): -p and a command.
    public var followsProcesses: Bool {
      switch self {
      case .processes, .command: true
      case .systemWide, .cgroup: false
      }
    }
  }

  /// Which stacks each sample takes.
  public enum Stacks: Sendable, Hashable {
    case both, userOnly, kernelOnly
  }

  /// How samples travel from the kernel to the profiler.
  public enum Transport: String, Sendable, Hashable, CaseIterable {
    /// Aggregated in the kernel: stacks by the hash of their frames and a counts hash, drained with batch
    /// lookup-and-delete.
    case maps
    /// One record per sample with its whole stacks through a BPF ringbuf (submitted without a wake-up),
    /// read on the drain timer and aggregated in user space.
    case ringbuf
    /// The perf-style client: every sample through the perf mmap ring (as `sonde record`), aggregated in
    /// user space.
    case perf
  }

  /// How user stacks are walked.
  public enum Unwind: String, Sendable, Hashable, CaseIterable {
    /// Frame pointers (bpf_get_stack): what the kernel offers; code built without them shows its leaf only.
    case fp
    /// Call-frame information: each binary's .eh_frame compiled into unwind rows in BPF maps and walked by
    /// the sampling program (maps and ringbuf transports; needs bpf_loop, Linux 5.17), or, with the perf
    /// transport, 8 KiB stack copies unwound in user space with the same tables.
    case dwarf
    /// dwarf where this kernel can walk stacks in BPF (or with the perf transport), else fp.
    case auto

    /// What `auto` resolves to for `transport` on this kernel.
    public func resolved(for transport: Transport) -> Unwind {
      guard self == .auto else { return self }
      return transport == .perf || ProfilerOptions.inKernelUnwindingMissing == nil ? .dwarf : .fp
    }
  }

  /// What is measured.
  public enum Mode: Sendable, Hashable {
    /// CPU time, sampled at `frequency` per CPU.
    case cpu
    /// Time blocked off the CPU (sched_switch to the next switch-in), per stack; intervals shorter than
    /// `minimumBlockMicroseconds` are counted and dropped.
    case offCPU(minimumBlockMicroseconds: UInt64)
  }

  public var mode: Mode = .cpu
  /// Bound on the decoded symbol tables the symbolizer keeps (bytes): a continuous profiler keeps it small,
  /// a one-shot run keeps every binary it met.
  public var symbolCacheBytes = 512 << 20
  /// Off-CPU: use the sched:sched_switch tracepoint even where tp_btf exists (the path of older kernels).
  public var forceSwitchTracepoint = false
  /// Samples per second per CPU (-F).
  public var frequency: UInt64 = 99
  public var target: Target = .systemWide
  /// Stop after this many seconds (--duration); nil: until the command exits or the stop token fires.
  public var duration: Double?
  /// Seconds between drains of the kernel's aggregates (--interval).
  public var interval: Double = 5
  public var stacks: Stacks = .both
  public var transport: Transport = .maps
  /// Distinct stacks each stack map holds (there are two: one drained while the other fills).
  public var stackMapEntries: UInt32 = 8192
  /// Distinct (process, stacks, comm) keys each counts map holds.
  public var countsMapEntries: UInt32 = 16384
  /// Bytes of the ringbuf transport's buffer (a power of two): it must hold one interval of samples
  /// (2 KiB each); 16 MiB holds 5 s of 99 Hz samples on 16 CPUs.
  public var ringbufBytes: UInt32 = 16 << 20
  public var unwind: Unwind = .fp
  /// Unwind rows the BPF tables hold for all binaries together (16 bytes each; libc has about 28000).
  public var unwindRows: UInt32 = 1 << 20

  public init() {}

  /// Why this kernel cannot run the in-kernel CFI unwinder (bpf_loop and bpf_task_pt_regs missing), or nil.
  public static var inKernelUnwindingMissing: String? {
    for feature in [BPFFeatures.Feature.helperLoop, .helperTaskPtRegs] {
      let result = BPFFeatures.probe(feature)
      if !result.supported { return "bpf_\(result.feature): \(result.reason ?? "not supported")" }
    }
    return nil
  }
}
