import BPF
import PerfEvents
import Profiles
import SondeBPFPrograms
import SondeBPFTypes
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// profile.bpf.c loaded for one run: the sampling program of the chosen transport on per-CPU cpu-clock
/// events, the process-tracking programs, and the maps both sides read. The `maps` transport aggregates
/// (pid, stacks, comm) counts in the kernel and user space drains one half of the maps while the program
/// fills the other; the `ringbuf` transport sends every sample, whole stacks, through a BPF ringbuf read on
/// the drain timer.
///
/// Owns the loaded object, its links and the perf event fds (through the links); `close()` or deinit
/// releases them all.
final class ProfilerProgram: BPFProfileSource {
  let object: BPFObject
  let transport: ProfilerOptions.Transport
  private let options: ProfilerOptions
  private var links = AttachedLinks()
  private let control: BPFMap<UInt32, UInt32>
  private let counts: [BPFMap<sonde_profile_key, UInt64>]
  /// Each half's stacks, kernel and user (frame pointers or the CFI walk), by the hash of their frames.
  private let stacks: [BPFMap<UInt64, sonde_profile_stack>]
  let stats: BPFMap<UInt32, UInt64>
  let targets: BPFMap<UInt32, UInt8>
  let newProcesses: RingBufferReader<sonde_profile_pid_event>
  /// The ringbuf transport's samples (nil with the maps transport).
  let samples: RingBufferReader<sonde_profile_sample>?
  /// The half the program writes into.
  private var active: UInt32 = 0
  /// The ringbuf transport's samples read since the last drain, aggregated.
  private var aggregate = StackAggregator()
  private(set) var bytesRead: UInt64 = 0
  /// The CFI tables' loader (--unwind dwarf), nil with frame pointers.
  let unwindTables: UnwindTableLoader?
  var unwindTableStats: UnwindTableLoader.Stats? { unwindTables?.stats }
  private var samplerName: String {
    transport == .maps
      ? "sonde_profile_cpu" : unwindTables != nil ? "sonde_profile_ringbuf_dwarf" : "sonde_profile_ringbuf"
  }

  /// Loads the program configured for `options`; nothing is attached until `attach`.
  init(options: ProfilerOptions) throws(SondeError) {
    transport = options.transport
    self.options = options
    var open = try OpenBPFObject(bytes: BPFProgramBytes.profile, name: "profile")
    try ProcessTracking.configure(&open, options)
    let usesMaps = options.transport == .maps
    // The transport not used keeps its maps at one entry (the kernel needs at least that).
    for half in 0..<2 {
      try open.setMaxEntries(usesMaps ? options.stackMapEntries : 1, forMap: "stacks\(half)")
      try open.setMaxEntries(usesMaps ? options.countsMapEntries : 1, forMap: "counts\(half)")
    }
    if !usesMaps {
      try open.setMaxEntries(options.ringbufBytes, forMap: "samples")
      try open.setConstant("samples_wakeup_bytes", to: UInt64(options.ringbufBytes / 4))
    }
    let dwarf = options.unwind.resolved(for: options.transport) == .dwarf
    if dwarf, let missing = ProfilerOptions.inKernelUnwindingMissing {
      throw SondeError.unsupported(
        "profile with --unwind dwarf", facility: .bpfUnwinder, cause: .minimumKernel("5.17"),
        reason: "this kernel cannot walk stacks in BPF (\(missing))",
        remedy: "use --transport perf (stack copies unwound in user space), or --unwind fp")
    }
    if dwarf {
      try open.setMaxEntries(options.unwindRows, forMap: "unwind_rows")
      try open.setMaxEntries(Self.pageEntries(options), forMap: "unwind_pages")
      try open.setMaxEntries(4096, forMap: "unwind_processes")
      try open.setConstant("dwarf_unwind", to: UInt32(1))
    }
    try open.setAutoload(usesMaps, program: "sonde_profile_cpu")
    try open.setAutoload(!usesMaps && !dwarf, program: "sonde_profile_ringbuf")
    try open.setAutoload(!usesMaps && dwarf, program: "sonde_profile_ringbuf_dwarf")
    object = try open.load()
    control = try object.map("control")
    counts = [try object.map("counts0"), try object.map("counts1")]
    stacks = [try object.map("stacks0"), try object.map("stacks1")]
    stats = try object.map("profile_stats")
    targets = try object.map("targets")
    newProcesses = try RingBufferReader(object: object, map: "new_pids")
    samples = usesMaps ? nil : try RingBufferReader(object: object, map: "samples")
    unwindTables =
      dwarf
      ? try UnwindTableLoader(object: object, capacity: options.unwindRows, pageCapacity: Self.pageEntries(options))
      : nil
  }

  deinit { close() }

  /// Entries of the page index array: a quarter of the rows (libc: 28,000 rows over 380 pages of code).
  static func pageEntries(_ options: ProfilerOptions) -> UInt32 { max(1, options.unwindRows / 4) }

  /// The ringbuf transport also wakes the loop when a quarter of its buffer waits.
  var waitDescriptors: [Int32] { [newProcesses.waitDescriptor] + (samples.map { [$0.waitDescriptor] } ?? []) }

  func service(_ mappings: ProcessMappings) throws(SondeError) {
    let captured = try captureNewProcesses(mappings)
    if let unwindTables {
      for pid in captured { unwindTables.load(pid: pid, mappings: mappings.mappings) }
    }
    try readSamples()
  }

  /// With in-kernel unwinding, the tables of running processes' binaries are loaded before sampling starts;
  /// otherwise a process's first samples, taken before its announcement is serviced, would stop at frames
  /// without frame pointers, and the table building would fall in the sampled time. The busiest processes
  /// (most CPU time so far) come first, and preloading stops at half the row array, so idle daemons with
  /// large binaries do not leave no room for the processes that start later.
  func prepare(existing pids: [Int32], _ mappings: ProcessMappings) {
    guard let unwindTables else { return }
    let busiestFirst = pids.map { ($0, processCPUTicks(pid: $0) ?? 0) }.sorted { $0.1 > $1.1 }.map(\.0)
    for pid in busiestFirst where pid != getpid() {
      guard unwindTables.rowsUsed < unwindTables.capacity / 2 else { break }
      if mappings.capture(pid: pid) { unwindTables.load(pid: pid, mappings: mappings.mappings) }
    }
  }

  /// Moves the ringbuf transport's waiting records into the aggregate.
  private func readSamples() throws(SondeError) {
    guard let samples else { return }
    // Records are read where they lie in the ring: a 2 KB copy per sample was most of this loop's time.
    let kernelOffset = MemoryLayout<sonde_profile_sample>.offset(of: \.kernel)!
    let userOffset = MemoryLayout<sonde_profile_sample>.offset(of: \.user)!
    let capacity = MemoryLayout.size(ofValue: sonde_profile_sample().kernel) / 8
    let count = try samples.drain { r in
      let raw = UnsafeRawPointer(r)
      let kernel = UnsafeBufferPointer(
        start: (raw + kernelOffset).assumingMemoryBound(to: UInt64.self),
        count: min(Int(r.pointee.kernel_bytes) / 8, capacity))
      let user = UnsafeBufferPointer(
        start: (raw + userOffset).assumingMemoryBound(to: UInt64.self),
        count: min(Int(r.pointee.user_bytes) / 8, capacity))
      aggregate.add(
        pid: Int32(bitPattern: r.pointee.pid), comm: ProcessTracking.commString(r.pointee.comm), kernel: kernel,
        user: user)
    }
    // Each record is its fixed size plus the ringbuf's 8-byte header.
    bytesRead +|= UInt64(count) &* UInt64(MemoryLayout<sonde_profile_sample>.size + 8)
  }

  /// Attaches the sampling program to per-CPU cpu-clock events (the links own them) and the
  /// process-tracking programs (forks of targets, execs and executable mmaps re-announce a process).
  func attach(followForks: Bool) throws(SondeError) {
    let sampler = try object.program(samplerName)
    for event in try SamplingEvents.open(SamplingEvents.cpuClock(options), options) {
      links.add(try sampler.attachPerfEvent(event))
    }
    links.add(try ProcessTracking.attach(object, followForks: followForks))
  }

  /// Detaches every program (and closes the perf events): no sample arrives after this.
  func detach() {
    links.closeAll()
  }

  func close() {
    detach()
    samples?.close()
    newProcesses.close()
    object.close()
  }

  /// Everything that reached user space since the last drain, aggregated by (pid, comm, stacks). With
  /// `final`, also what is left in the maps' other half (call it after `detach`).
  func drain(final: Bool, missingStacks: inout UInt64) throws(SondeError) -> [DrainedStack] {
    if samples != nil {
      try readSamples()
      return aggregate.take()
    }
    return try drainMaps(both: final, missingStacks: &missingStacks)
  }

  /// Flips the halves and drains the one the program no longer writes: every count (batch
  /// lookup-and-delete) and every stack they name, which is then deleted. With `both`, drains the other half
  /// too (the final drain, after `detach`).
  private func drainMaps(both: Bool, missingStacks: inout UInt64) throws(SondeError) -> [DrainedStack] {
    let old = Int(active)
    active ^= 1
    try control.update(0, active)
    // A program that read the old index before the flip is still running on some CPU for at most
    // microseconds (it runs with preemption off); 2 ms is a wide margin before reading that half.
    usleep(2000)
    var drained = try drainHalf(old, missingStacks: &missingStacks)
    if both { drained += try drainHalf(old ^ 1, missingStacks: &missingStacks) }
    return drained
  }

  private func drainHalf(_ half: Int, missingStacks: inout UInt64) throws(SondeError) -> [DrainedStack] {
    let entries = try counts[half].drainEntries()
    // The program no longer writes this half: every stack in it is taken (batch lookup-and-delete), so the
    // half starts empty next time.
    var frames: [Int64: [UInt64]] = [:]
    for (hash, stack) in try stacks[half].drainEntries() {
      frames[Int64(bitPattern: hash)] = ProcessTracking.frames(of: stack)
    }
    let (out, _) = try ProcessTracking.stacks(
      of: entries.map { ($0.key, $0.value, $0.value) }, missingStacks: &missingStacks
    ) { frames[$0] }
    let copied = ProcessTracking.bytesDrained(
      keys: entries.count, of: UInt64.self, stacks: frames.count, stackKey: UInt64.self)
    bytesRead +|= copied
    return out
  }
}
