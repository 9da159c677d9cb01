import CSonde
import PerfEvents
import Profiles
import SondeCore
import SondeSystem

/// The `perf` transport: the perf-style client feeding the same engine. Per-CPU cpu-clock events with
/// frame-pointer callchains and side-band (MMAP2, COMM, FORK) write every sample into a perf mmap ring, as
/// `sonde record` does; the profiler reads the rings when they pass their watermark and at each drain,
/// aggregates samples by (pid, comm, stacks) in user space, takes mappings from MMAP2 records (so processes
/// that exit symbolize) and follows forks and the command's exec from FORK and COMM records. With
/// `--unwind dwarf` each sample carries its registers and 8 KiB of user stack, unwound here with the
/// binaries' call-frame tables (as `sonde report` unwinds a `--call-graph dwarf` recording).
final class PerfRingSource: ProfileSource {
  private let options: ProfilerOptions
  private var events: [PerfEventFD] = []
  private var rings: [SampleRing] = []
  private let decoder: RecordDecoder
  /// Whether only `active` processes are sampled (-p, a command).
  private let filters: Bool
  private var active: Set<Int32> = []
  private var waitingForExec: Set<Int32> = []
  private var comms: [Int32: String] = [:]
  private var aggregate = StackAggregator()
  private var kernel: [UInt64] = []
  private var user: [UInt64] = []
  private var samples: UInt64 = 0
  private var lost: UInt64 = 0
  private var undecodable: UInt64 = 0
  private var bytesRead: UInt64 = 0
  private let attributes: perf_event_attr
  /// User-space CFI unwinding of the samples' stack copies (--unwind dwarf), nil with frame pointers.
  private let unwinding: DwarfStackUnwinding?

  init(options: ProfilerOptions) {
    self.options = options
    var attr = SamplingEvents.cpuClock(options)
    SamplingAttributes.configureSampling(
      &attr, frequency: options.frequency, period: nil,
      callGraph: options.unwind.resolved(for: .perf) == .dwarf && options.stacks != .kernelOnly
        ? .dwarf(stackSize: 8192) : .framePointer,
      trackSideBand: true, systemWide: true)
    if options.stacks == .kernelOnly { attr.exclude_callchain_user = 1 }
    if options.stacks == .userOnly { attr.exclude_callchain_kernel = 1 }
    attributes = attr
    decoder = RecordDecoder(defaultLayout: SampleLayout(attr))
    filters = options.target.followsProcesses
    unwinding = attr.sample_type & SampleType.stackUser.rawValue != 0 ? DwarfStackUnwinding() : nil
  }

  deinit { close() }

  func addTarget(_ pid: Int32, atExec: Bool) throws(SondeError) {
    if atExec { waitingForExec.insert(pid) } else { active.insert(pid) }
  }

  var waitDescriptors: [Int32] { events.map(\.rawValue) }
  /// The rings wake the loop only at their watermark, which a quiet workload may not reach before it exits:
  /// reading them every 100 ms learns a new process's mappings (MMAP2) while /proc/PID/root still shows
  /// its files (another mount namespace's binaries are loaded then).
  var servicePeriod: Double? { 0.1 }

  func attach(followForks _: Bool) throws(SondeError) {
    events = try SamplingEvents.open(attributes, options)
    let pages = RecordOptions.defaultRingPages(cpus: events.count)
    for event in events { rings.append(try SampleRing(event: event, dataPages: pages)) }
    for event in events { try event.enable() }
  }

  func detach() {
    for event in events { try? event.disable() }
  }

  func close() {
    for ring in rings { ring.close() }
    rings.removeAll()
    for event in events { event.close() }
    events.removeAll()
  }

  func service(_ mappings: ProcessMappings) throws(SondeError) {
    for ring in rings {
      ring.drain { bytes in
        bytesRead +|= UInt64(bytes.count)
        read(bytes, mappings)
      }
    }
  }

  private func read(_ bytes: UnsafeRawBufferPointer, _ mappings: ProcessMappings) {
    guard bytes.count >= 8 else { return }
    let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    let misc = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
    if type == RecordType.sample {
      do {
        try decoder.withSampleView(bytes, base: 0) { s in sample(s, misc: misc) }
      } catch {
        undecodable +|= 1
      }
      return
    }
    guard let record = try? decoder.decode(bytes) else {
      undecodable +|= 1
      return
    }
    switch record.body {
    case .mmap(let m), .mmap2(let m):
      let pid = Int32(bitPattern: m.pid)
      if record.misc & RecordMisc.mmapData == 0, !filters || active.contains(pid) || waitingForExec.contains(pid) {
        let stored = mappings.add(recorded: Profile.Mapping(m))
        unwinding?.add(stored)
      }
    case .comm(let c):
      let pid = Int32(bitPattern: c.pid)
      comms[Int32(bitPattern: c.tid)] = c.comm
      if record.misc & RecordMisc.commExec != 0, waitingForExec.remove(pid) != nil { active.insert(pid) }
    case .fork(let t):
      let pid = Int32(bitPattern: t.pid)
      if t.pid != t.ppid, active.contains(Int32(bitPattern: t.ppid)) { active.insert(pid) }
    case .lost(_, let count):
      lost +|= count
    default:
      break
    }
  }

  private func sample(_ s: SampleView, misc: UInt16) {
    let pid = Int32(bitPattern: s.head.pid)
    guard !filters || active.contains(pid) else { return }
    samples +|= 1
    kernel.removeAll(keepingCapacity: true)
    user.removeAll(keepingCapacity: true)
    let kernelMode = misc & RecordMisc.cpumodeMask == RecordMisc.kernel
    let userFrames = unwinding?.userFrames(s, pid: pid)
    CallchainStacks.forEachFrame(
      s, kernelMode: kernelMode, maxFrames: ProfileLoader.maxStackFrames, userFrames: userFrames
    ) { address, isKernel in
      if isKernel { kernel.append(address) } else { user.append(address) }
    }
    aggregate.add(pid: pid, comm: comm(of: Int32(bitPattern: s.head.tid), pid: pid), kernel: kernel, user: user)
  }

  /// A thread's name: from COMM records, else /proc (a thread that ran before sampling began).
  private func comm(of tid: Int32, pid: Int32) -> String {
    if let known = comms[tid] { return known }
    let name =
      readSmallFile("/proc/\(pid)/task/\(tid)/comm").map { String($0.prefix { $0 != "\n" }) } ?? String(tid)
    comms[tid] = name
    return name
  }

  func drain(final: Bool, missingStacks: inout UInt64) throws(SondeError) -> [DrainedStack] {
    aggregate.take()
  }

  func account(_ accounting: inout ProfileAccounting) throws(SondeError) {
    accounting.samples = samples
    accounting.lostRecords = lost
    accounting.undecodableRecords = undecodable
    accounting.bytesFromKernel = bytesRead
    for (reason, n) in unwinding?.stats.stops ?? [:] {
      accounting.unwindStops[reason.name] = UInt64(n)
    }
  }
}
