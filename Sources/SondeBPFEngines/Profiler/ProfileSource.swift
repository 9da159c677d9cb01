import BPF
import PerfEvents
import Profiles
import SondeBPFTypes
import SondeSystem
import Symbols

/// What the profiler engine needs of a transport (a BPF object aggregating CPU samples or off-CPU intervals,
/// or the perf ring): targets, descriptors to wake on, servicing what is ready, attaching and detaching,
/// drains and its own accounting.
protocol ProfileSource: AnyObject {
  /// Makes `pid` a target (a -p process, or with `atExec` a command that becomes one when it execs).
  /// Only called when the options target processes or a command.
  func addTarget(_ pid: Int32, atExec: Bool) throws(SondeError)
  /// Descriptors that become readable when the source has something to read now.
  var waitDescriptors: [Int32] { get }
  /// Seconds between `service` calls when nothing wakes the loop sooner (nil: only when a descriptor is ready).
  var servicePeriod: Double? { get }
  /// Reads what is ready: processes to capture mappings for (into `mappings`), records of the perf ring.
  func service(_ mappings: ProcessMappings) throws(SondeError)
  /// Prepares for processes that run before sampling starts (system-wide: all of them), so their first
  /// samples are as complete as later ones. The in-kernel unwinder loads their call-frame tables here, as
  /// perf synthesizes the mappings of running processes before it records.
  func prepare(existing pids: [Int32], _ mappings: ProcessMappings)
  /// Opens the sampling events (when it samples) and attaches the programs; `followForks` makes the
  /// children of targets targets too.
  func attach(followForks: Bool) throws(SondeError)
  /// Detaches every program: nothing is counted after this.
  func detach()
  func close()
  /// Everything aggregated since the last drain. `final` (after `detach`) also takes what is left.
  func drain(final: Bool, missingStacks: inout UInt64) throws(SondeError) -> [DrainedStack]
  /// Adds what the source counted (samples taken, losses) to `accounting`.
  func account(_ accounting: inout ProfileAccounting) throws(SondeError)
}

/// The BPF objects' side of `ProfileSource`: their `targets` map, `new_pids` ringbuf and per-CPU counters.
protocol BPFProfileSource: ProfileSource {
  var targets: BPFMap<UInt32, UInt8> { get }
  var newProcesses: RingBufferReader<sonde_profile_pid_event> { get }
  /// The per-CPU `profile_stats` array (SONDE_PROFILE_STAT_* slots).
  var stats: BPFMap<UInt32, UInt64> { get }
  /// Bytes user space has read from the object's maps and ringbufs so far.
  var bytesRead: UInt64 { get }
  /// What loading CFI unwind tables did (--unwind dwarf), nil when none are used.
  var unwindTableStats: UnwindTableLoader.Stats? { get }
}

extension ProfileSource {
  func prepare(existing pids: [Int32], _ mappings: ProcessMappings) {}
}

extension BPFProfileSource {
  func addTarget(_ pid: Int32, atExec: Bool) throws(SondeError) {
    try targets.update(
      UInt32(bitPattern: pid), atExec ? ProcessTracking.targetAtExec : ProcessTracking.targetActive)
  }

  var waitDescriptors: [Int32] { [newProcesses.waitDescriptor] }
  /// The BPF programs announce new processes through a ringbuf that wakes the loop at once.
  var servicePeriod: Double? { nil }

  func service(_ mappings: ProcessMappings) throws(SondeError) { try captureNewProcesses(mappings) }

  /// Reads the mappings of every process the program announced; returns those processes.
  @discardableResult
  func captureNewProcesses(_ mappings: ProcessMappings) throws(SondeError) -> [Int32] {
    var pids: [Int32] = []
    for event in try newProcesses.drain() {
      let pid = Int32(bitPattern: event.pid)
      if mappings.capture(pid: pid) { pids.append(pid) }
    }
    return pids
  }

  func account(_ accounting: inout ProfileAccounting) throws(SondeError) {
    let c = try stats.summedCounters(slots: Int(SONDE_PROFILE_STAT_SLOTS.rawValue))
    func slot(_ s: sonde_profile_stat_slot) -> UInt64 { c[Int(s.rawValue)] }
    accounting.samples = slot(SONDE_PROFILE_STAT_SAMPLES)
    accounting.stackCollisions = slot(SONDE_PROFILE_STAT_COLLISIONS)
    accounting.stackErrors = slot(SONDE_PROFILE_STAT_STACK_ERRORS)
    accounting.stackMapFull = slot(SONDE_PROFILE_STAT_STACK_MAP_FULL)
    accounting.mapFullDrops = slot(SONDE_PROFILE_STAT_MAP_FULL)
    accounting.pidEventDrops = slot(SONDE_PROFILE_STAT_PID_EVENT_DROPS)
    accounting.ringbufDrops = slot(SONDE_PROFILE_STAT_RINGBUF_DROPS)
    accounting.shortBlocks = slot(SONDE_PROFILE_STAT_SHORT_BLOCKS)
    accounting.blockedThreadDrops = slot(SONDE_PROFILE_STAT_START_FULL)
    let stops: [(StackUnwinder.StopReason, sonde_profile_stat_slot)] = [
      (.reachedEnd, SONDE_PROFILE_STAT_UNWIND_END), (.noUnwindInfo, SONDE_PROFILE_STAT_UNWIND_NO_TABLE),
      (.unreadableMemory, SONDE_PROFILE_STAT_UNWIND_BAD_READ), (.depthLimit, SONDE_PROFILE_STAT_UNWIND_DEPTH),
      (.badRule, SONDE_PROFILE_STAT_UNWIND_BAD_RULE),
    ]
    for (reason, s) in stops where slot(s) > 0 { accounting.unwindStops[reason.name] = slot(s) }
    if let t = unwindTableStats {
      accounting.unwindTables = ProfileAccounting.UnwindTables(
        binaries: t.binaries, rows: t.rows, bytes: t.rows * MemoryLayout<sonde_unwind_row>.stride,
        milliseconds: t.seconds * 1000, failed: t.failed.count + t.rowsFull, mappingsDropped: t.mappingsDropped,
        processFailures: t.processFailures)
    }
    accounting.bytesFromKernel = bytesRead
  }
}

/// One drained aggregate: its process, comm, count and weight (samples for CPU time, nanoseconds for
/// off-CPU time), with the frames of its stacks, leaf first.
struct DrainedStack {
  var pid: Int32
  var comm: String
  var count: UInt64
  var weight: UInt64
  var kernel: [UInt64]
  var user: [UInt64]
}

/// Samples aggregated in user space by (pid, comm, stacks): the ringbuf and perf transports, which get one
/// record per sample, hand the engine the same aggregates the maps transport gets from the kernel.
///
/// A sample is looked up by a hash of its frames where they lie (the ring, a reused buffer) and compared
/// frame by frame, so a stack seen before costs no allocation; only a new one is copied into arrays.
struct StackAggregator {
  private struct Entry {
    var pid: Int32
    var comm: String
    var kernel: [UInt64]
    var user: [UInt64]
    var count: UInt64
  }
  private var entries: [Entry] = []
  /// Entry indices by the hash of (pid, comm, frames); a bucket holds more than one only on a collision.
  private var buckets: [Int: [Int]] = [:]

  /// Counts one sample.
  mutating func add(pid: Int32, comm: String, kernel: [UInt64], user: [UInt64]) {
    kernel.withUnsafeBufferPointer { k in
      user.withUnsafeBufferPointer { u in add(pid: pid, comm: comm, kernel: k, user: u) }
    }
  }

  /// Counts one sample whose frames are read in place.
  mutating func add(pid: Int32, comm: String, kernel: UnsafeBufferPointer<UInt64>, user: UnsafeBufferPointer<UInt64>) {
    var hasher = Hasher()
    hasher.combine(pid)
    hasher.combine(comm)
    hasher.combine(kernel.count)
    hasher.combine(bytes: UnsafeRawBufferPointer(kernel))
    hasher.combine(bytes: UnsafeRawBufferPointer(user))
    let hash = hasher.finalize()
    if let candidates = buckets[hash] {
      for i in candidates
      where entries[i].pid == pid && entries[i].comm == comm && entries[i].kernel.elementsEqual(kernel)
        && entries[i].user.elementsEqual(user)
      {
        entries[i].count +|= 1
        return
      }
    }
    buckets[hash, default: []].append(entries.count)
    entries.append(Entry(pid: pid, comm: comm, kernel: Array(kernel), user: Array(user), count: 1))
  }

  /// The aggregates so far (weight = count), leaving it empty.
  mutating func take() -> [DrainedStack] {
    defer {
      entries.removeAll(keepingCapacity: true)
      buckets.removeAll(keepingCapacity: true)
    }
    return entries.map { e in
      DrainedStack(pid: e.pid, comm: e.comm, count: e.count, weight: e.count, kernel: e.kernel, user: e.user)
    }
  }
}

/// The links of one loaded object, closed together (detaching every program and closing what they own).
struct AttachedLinks {
  private var links: [BPFLink] = []

  mutating func add(_ link: BPFLink) { links.append(link) }
  mutating func add(_ more: [BPFLink]) { links += more }

  mutating func closeAll() {
    for link in links { link.close() }
    links.removeAll()
  }
}

/// The programs every profiler object carries (profile_common.h) that keep its view of processes current.
enum ProcessTracking {
  /// Values of the `targets` map (profile_common.h): sampled, or sampled once it execs.
  static let targetActive: UInt8 = 1
  static let targetAtExec: UInt8 = 2

  /// Attaches fork following (when the object filters by pid), exec and executable-mmap re-announcement.
  static func attach(_ object: BPFObject, followForks: Bool) throws(SondeError) -> [BPFLink] {
    var links: [BPFLink] = []
    if followForks { links.append(try object.program("sonde_profile_fork").attachRawTracepoint("sched_process_fork")) }
    links.append(try object.program("sonde_profile_exec").attachRawTracepoint("sched_process_exec"))
    links.append(
      try object.program("sonde_profile_mmap").attachTracepoint(category: "syscalls", name: "sys_enter_mmap"))
    return links
  }

  /// Sets the constants profile_common.h declares, from the options.
  static func configure(_ open: inout OpenBPFObject, _ options: ProfilerOptions) throws(SondeError) {
    if options.target.followsProcesses { try open.setConstant("filter_pids", to: UInt32(1)) }
    try open.setConstant("user_stacks", to: UInt32(options.stacks == .kernelOnly ? 0 : 1))
    try open.setConstant("kernel_stacks", to: UInt32(options.stacks == .userOnly ? 0 : 1))
  }

  /// A kernel comm (16 bytes, NUL-padded) as a string.
  static func commString<T>(_ comm: T) -> String {
    withUnsafeBytes(of: comm) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
  }

  /// Drained keys with their stacks: `stack` gives the frames a reference names (looked up once per
  /// reference), or nil when it is gone. Returns the aggregates and the references that were found; a key
  /// whose stack is gone is kept without it and counted in `missingStacks`. A negative reference is no
  /// stack (not asked for, or one the program counted as lost).
  static func stacks(
    of entries: [(key: sonde_profile_key, count: UInt64, weight: UInt64)], missingStacks: inout UInt64,
    stack: (Int64) throws(SondeError) -> [UInt64]?
  ) throws(SondeError) -> ([DrainedStack], found: [Int64]) {
    var frames: [Int64: [UInt64]?] = [:]
    func cached(_ reference: Int64) throws(SondeError) -> [UInt64]? {
      if let known = frames[reference] { return known }
      let ips = try stack(reference)
      frames[reference] = ips
      return ips
    }
    var out: [DrainedStack] = []
    out.reserveCapacity(entries.count)
    for (key, count, weight) in entries {
      var kernel: [UInt64] = []
      var user: [UInt64] = []
      if key.kernel_stack >= 0 {
        if let s = try cached(key.kernel_stack) { kernel = s } else { missingStacks +|= count }
      }
      if key.user_stack >= 0 {
        if let s = try cached(key.user_stack) { user = s } else { missingStacks +|= count }
      }
      out.append(
        DrainedStack(
          pid: Int32(bitPattern: key.pid), comm: commString(key.comm), count: count, weight: weight, kernel: kernel,
          user: user))
    }
    return (out, frames.compactMap { $0.value == nil ? nil : $0.key })
  }

  /// What a drain of `keys` entries of `Value` and `stacks` stacks (keyed by `StackKey`) copied out of the
  /// kernel.
  static func bytesDrained<Value, StackKey>(keys: Int, of _: Value.Type, stacks: Int, stackKey _: StackKey.Type)
    -> UInt64
  {
    let entry = MemoryLayout<sonde_profile_key>.size + MemoryLayout<Value>.size
    return UInt64(keys * entry + stacks * (MemoryLayout<StackKey>.size + MemoryLayout<sonde_profile_stack>.size))
  }

  /// The frames of a stack-map value (zero-terminated), leaf first.
  static func frames(of stack: sonde_profile_stack) -> [UInt64] { frames(ips: stack.ips) }

  /// The frames of a stack-map frame array (a C array of u64, zero-terminated when shorter), leaf first.
  static func frames<Frames>(ips: Frames) -> [UInt64] {
    withUnsafeBytes(of: ips) { raw in Array(raw.bindMemory(to: UInt64.self).prefix { $0 != 0 }) }
  }
}
