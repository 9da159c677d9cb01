import CSonde
import PerfEvents
import Profiles
import SondeSystem

/// Builds a transport-neutral `Profile` from a perf.data file: samples become interned stacks (the
/// callchain split at its PERF_CONTEXT markers into kernel and user parts), COMM records name threads
/// over time, MMAP/MMAP2 records become mappings, LOST/LOST_SAMPLES become lost/dropped counters.
public struct ProfileLoader {
  /// Keep only samples of these pids (empty: all).
  public var pids: Set<Int32> = []
  /// Keep only samples of threads with these command names (empty: all).
  public var comms: Set<String> = []
  /// Keep only samples of this event (index into the file's events; nil: all events together).
  public var event: Int?

  public init() {}

  /// What loading saw besides the profile.
  public struct Summary: Sendable {
    public var samples = 0
    public var records = 0
    public var unknownRecords = 0
    public var bytes = 0
    public var eventNames: [String] = []
    /// What DWARF unwinding did, for files recorded with `--call-graph dwarf` (nil for others).
    public var unwinding: DwarfStackUnwinding.Stats?
  }

  public func load(_ file: PerfDataFile) throws(SondeError) -> (Profile, Summary) {
    var summary = Summary()
    let names = RecordWalker.eventNames(file)
    var builder = ProfileBuilder(
      eventName: event.flatMap { names.indices.contains($0) ? names[$0] : nil } ?? names.first ?? "")
    var eventIDs: Set<UInt64>?
    if let event, file.events.indices.contains(event) {
      eventIDs = Set(file.events[event].ids)
      let a = file.events[event].attributes
      builder.setRate(frequency: a.freq != 0 ? a.sample_freq : nil, period: a.freq == 0 ? a.sample_period : nil)
    }
    if event == nil, let first = file.events.first {
      let a = first.attributes
      builder.setRate(frequency: a.freq != 0 ? a.sample_freq : nil, period: a.freq == 0 ? a.sample_period : nil)
    }
    // Events sampled with a fixed period (-c) do not carry PERIOD in each sample: weigh by the attr's period.
    var fixedPeriod: [UInt64: UInt64] = [:]
    for e in file.events where e.attributes.freq == 0 {
      for id in e.ids { fixedPeriod[id] = e.attributes.sample_period }
    }
    let defaultPeriod = file.events.first.map { $0.attributes.freq == 0 ? $0.attributes.sample_period : 1 } ?? 1
    var stacks = CallchainStacks(maxFrames: Self.maxStackFrames)
    var threads = ThreadIDs()
    let unwinding = DwarfStackUnwinding.needed(by: file) ? DwarfStackUnwinding() : nil
    var walker = RecordWalker(file: file)
    let scan = try walker.walk { item in
      switch item {
      case .sample(let s, let misc, let thread):
        summary.samples += 1
        if let eventIDs, !eventIDs.contains(s.head.eventID) { return }
        if !pids.isEmpty && !pids.contains(thread.pid) { return }
        if !comms.isEmpty && !comms.contains(thread.comm) { return }
        let period = s.head.period
        let weight = period != 0 ? period : (fixedPeriod[s.head.eventID] ?? defaultPeriod)
        let userFrames = unwinding?.userFrames(s, pid: thread.pid)
        let stack = stacks.stack(s, misc: misc, pid: thread.pid, userFrames: userFrames, into: &builder)
        builder.add(stack: stack, thread: threads.id(thread, in: &builder), weight: max(weight, 1), time: s.head.time)
      case .mapping(let m):
        let mapping = Profile.Mapping(m)
        builder.addMapping(mapping)
        unwinding?.add(mapping)
      case .lost(let n): builder.addLost(n)
      case .lostSamples(let n): builder.addDropped(n)
      }
    }
    summary.records = scan.records
    summary.unknownRecords = scan.unknownRecords
    summary.bytes = scan.bytes
    // Pipe-mode streams define their events as they go: name them now that all were seen.
    let finalNames = RecordWalker.eventNames(file)
    if names.isEmpty, let first = finalNames.first {
      builder.setEventName(event.flatMap { finalNames.indices.contains($0) ? finalNames[$0] : nil } ?? first)
    }
    summary.eventNames = finalNames
    summary.unwinding = unwinding?.stats
    return (builder.build(), summary)
  }

  /// Frames kept per callchain, as `perf report`'s default `--max-stack` (the kernel's
  /// `perf_event_max_stack`, 127): a file's chain can claim thousands of frames, and a report of them must
  /// not grow with what the file claims.
  public static let maxStackFrames = 127

  /// A decoded sample's stack as raw addresses: kernel frames then user frames, each leaf first (see
  /// `CallchainStacks`; this form allocates, for tests and tools).
  static func stack(_ s: Sample, misc: UInt16) -> Profile.Stack {
    var stack = Profile.Stack()
    s.callchain.withUnsafeBytes { chain in
      let view = SampleView(head: s.head, callchainBytes: chain, userIP: nil)
      CallchainStacks.forEachFrame(
        view, kernelMode: misc & RecordMisc.cpumodeMask == RecordMisc.kernel, maxFrames: maxStackFrames
      ) { address, kernel in
        if kernel { stack.kernel.append(address) } else { stack.user.append(address) }
      }
    }
    return stack
  }

  /// The user-space instruction pointer from sampled user registers (DWARF mode: the callchain then
  /// has only kernel frames, and the registers say where user code was when it entered the kernel).
  static func userIP(_ s: Sample, mask: UInt64) -> UInt64? { s.regsUser.instructionPointer(mask: mask) }
}

extension Profile.Mapping {
  /// The mapping an MMAP or MMAP2 record describes (its length saturating: it comes from the file).
  public init(_ m: MmapRecord) {
    self.init(
      pid: Int32(bitPattern: m.pid), start: m.address, end: m.address.saturatingAdd(m.length),
      fileOffset: m.pageOffset, path: m.filename, buildID: m.buildID)
  }
}

/// Profile thread ids by (pid, tid, naming serial), so a sample's thread costs a lookup of three integers
/// rather than hashing its name.
struct ThreadIDs {
  private struct Key: Hashable {
    var pid: Int32
    var tid: Int32
    var serial: Int
  }
  private var ids: [Key: Int] = [:]
  private var last: (key: Key, id: Int)?

  mutating func id(_ thread: RecordWalker.SampledThread, in builder: inout ProfileBuilder) -> Int {
    let key = Key(pid: thread.pid, tid: thread.tid, serial: thread.serial)
    if let last, last.key == key { return last.id }
    let id: Int
    if let known = ids[key] {
      id = known
    } else {
      id = builder.thread(thread.profileThread)
      ids[key] = id
    }
    last = (key, id)
    return id
  }
}
