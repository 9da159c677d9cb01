import Profiles

/// What a profile run counted about itself: what was sampled, and everything that was lost on the way, each
/// counted where it happened (the BPF program, or the reader). Printed at the end and stored in every output
/// format's metadata, so a profile never looks more complete than it is.
public struct ProfileAccounting: Sendable, Hashable {
  /// Samples the BPF program took of targeted tasks (off-CPU: blocked intervals it kept).
  public var samples: UInt64 = 0
  /// Off-CPU: stacks lost to a stack-map bucket that held a different stack (bpf_get_stackid -EEXIST).
  public var stackCollisions: UInt64 = 0
  /// CPU profiler: new stacks that found the stacks map full (--stack-map-size).
  public var stackMapFull: UInt64 = 0
  /// Stacks that could not be read (bpf_get_stack or bpf_get_stackid -EFAULT, and other failures).
  public var stackErrors: UInt64 = 0
  /// Samples dropped because the counts map was full.
  public var mapFullDrops: UInt64 = 0
  /// Samples dropped because the ringbuf transport's buffer was full (bpf_ringbuf_reserve failed).
  public var ringbufDrops: UInt64 = 0
  /// Off-CPU: blocked intervals shorter than the minimum, counted and not kept.
  public var shortBlocks: UInt64 = 0
  /// Off-CPU: threads whose blocking could not be remembered (its map was full); their waits are lost.
  public var blockedThreadDrops: UInt64 = 0
  /// perf transport: samples the kernel could not write because the perf ring was full (LOST records).
  public var lostRecords: UInt64 = 0
  /// perf transport: ring records that did not decode (should stay 0).
  public var undecodableRecords: UInt64 = 0
  /// Processes the program could not announce (new-pid ringbuf full); they are announced at a later sample.
  public var pidEventDrops: UInt64 = 0
  /// Samples whose stacks were missing from the stack map when drained (should stay 0).
  public var missingStacks: UInt64 = 0
  /// Processes with samples whose mappings could not be read (they exited before user space saw them).
  public var unsymbolizedProcesses: Int = 0
  /// Samples of those processes.
  public var unsymbolizedSamples: UInt64 = 0
  /// Bytes user space copied out of the kernel: map entries and stacks drained (maps), records consumed
  /// (ringbuf, perf ring). What in-kernel aggregation saves shows here.
  public var bytesFromKernel: UInt64 = 0
  /// --unwind dwarf: how the CFI walks ended, by reason ("reached the end", "no table", …).
  public var unwindStops: [String: UInt64] = [:]
  /// --unwind dwarf in the kernel: the unwind tables loaded into BPF maps.
  public var unwindTables: UnwindTables?

  public struct UnwindTables: Sendable, Hashable {
    /// Binaries whose rows were loaded, their rows, the BPF map bytes they take and the time to build them.
    public var binaries: Int
    public var rows: Int
    public var bytes: Int
    public var milliseconds: Double
    /// Binaries without a table (no call-frame information, unreadable, or the rows array was full): their
    /// frames fall back to frame pointers.
    public var failed: Int
    /// Executable mappings past the per-process limit (SONDE_UNWIND_MAPPINGS), left to frame pointers.
    public var mappingsDropped: Int
    /// Processes whose mapping list could not be written to the kernel, left to frame pointers.
    public var processFailures: Int
  }
  /// One entry per drain: samples drained and distinct keys they came in.
  public var drains: [Drain] = []

  public struct Drain: Sendable, Hashable {
    public var samples: UInt64
    public var keys: Int
    /// Samples per distinct key: how much in-kernel aggregation saved over one record per sample.
    public var aggregationRatio: Double { keys == 0 ? 0 : Double(samples) / Double(keys) }
  }

  public init() {}

  /// Samples drained over the whole run.
  public var drainedSamples: UInt64 { drains.reduce(0) { $0 &+ $1.samples } }

  /// Samples that did not reach the profile (map or ring full, undecodable records).
  public var droppedSamples: UInt64 {
    mapFullDrops.saturatingAdd(ringbufDrops).saturatingAdd(lostRecords).saturatingAdd(undecodableRecords)
  }

  /// Samples in the profile without their stack: bucket collisions, a full stack map, unreadable or vanished
  /// stacks.
  public var lostStacks: UInt64 {
    stackCollisions.saturatingAdd(stackMapFull).saturatingAdd(stackErrors).saturatingAdd(missingStacks)
  }

  /// Samples over distinct keys across all drains.
  public var aggregationRatio: Double {
    let keys = drains.reduce(0) { $0 + $1.keys }
    return keys == 0 ? 0 : Double(drainedSamples) / Double(keys)
  }
}
