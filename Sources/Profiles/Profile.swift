/// A CPU (or any event) profile, independent of how it was collected: the contract between transports
/// (the perf ring, BPF stack maps, an agent's store) and exporters (report, folded, flame graph, pprof).
///
/// It is a set of tables addressed by integer ids, the shape pprof uses:
/// - `locations`: distinct code addresses, each in one address space (a process, or the kernel);
/// - `stacks`: distinct call stacks as runs of location ids (leaf first, kernel frames before user frames),
///   stored back to back in one buffer;
/// - `threads`: (pid, tid, command name);
/// - `entries`: one per distinct (stack, thread), with its sample count and summed weight;
/// - `mappings`: the address-space mappings needed to symbolize user locations later.
///
/// Memory grows with distinct locations, stacks and threads, not with samples: a million samples of ten
/// thousand stacks are ten thousand stacks and at most as many entries. Symbolization (`ResolvedProfile`)
/// runs once per location.
public struct Profile: Sendable {
  /// A call stack given by raw addresses: kernel frames then user frames, each leaf first. The input form
  /// of `ProfileBuilder.add(thread:stack:…)`; the profile stores stacks as location ids.
  public struct Stack: Sendable, Hashable {
    public var kernel: [UInt64]
    public var user: [UInt64]
    public init(kernel: [UInt64] = [], user: [UInt64] = []) {
      self.kernel = kernel
      self.user = user
    }
  }

  /// A thread, with the command name it had when sampled.
  public struct Thread: Sendable, Hashable {
    public var pid: Int32
    public var tid: Int32
    public var comm: String
    public init(pid: Int32, tid: Int32, comm: String) {
      self.pid = pid
      self.tid = tid
      self.comm = comm
    }
  }

  /// A file (or special region) mapped into a process; pid -1 is the kernel.
  public struct Mapping: Sendable, Hashable {
    public var pid: Int32
    public var start: UInt64
    public var end: UInt64
    /// File offset of `start`.
    public var fileOffset: UInt64
    public var path: String
    public var buildID: [UInt8]?
    public init(pid: Int32, start: UInt64, end: UInt64, fileOffset: UInt64, path: String, buildID: [UInt8]? = nil) {
      self.pid = pid
      self.start = start
      self.end = end
      self.fileOffset = fileOffset
      self.path = path
      self.buildID = buildID
    }
  }

  /// One distinct code address.
  public struct Location: Sendable, Hashable {
    /// The sampled address: an instruction pointer for leaves, a return address for callers.
    public var address: UInt64
    /// The address space: a process id for user addresses, -1 for the kernel (shared by every process).
    public var pid: Int32
    public var isKernel: Bool
    /// A caller's frame: the address is where the call returns to, so symbolizers look up `address - 1`.
    public var isReturnAddress: Bool

    public init(address: UInt64, pid: Int32, isKernel: Bool, isReturnAddress: Bool) {
      self.address = address
      self.pid = isKernel ? -1 : pid
      self.isKernel = isKernel
      self.isReturnAddress = isReturnAddress
    }
  }

  /// Aggregated samples of one stack in one thread.
  public struct Entry: Sendable, Hashable {
    /// Index into `stacks`.
    public var stack: Int
    /// Index into `threads`.
    public var thread: Int
    /// Number of samples.
    public var count: UInt64
    /// Sum of sample weights (the period: events, or nanoseconds for clock events).
    public var weight: UInt64
  }

  public internal(set) var locations: [Location] = []
  /// Stacks as runs of location ids, leaf first.
  public internal(set) var stacks = SequenceTable<UInt32>()
  public internal(set) var threads: [Thread] = []
  public internal(set) var entries: [Entry] = []
  /// Mappings in the order they appeared (later ones win when ranges overlap, as after exec).
  public var mappings: [Mapping] = []
  /// Name of the sampled event (cpu-clock, …).
  public var eventName: String = ""
  /// Samples per second requested, when sampling by frequency.
  public var sampleFrequency: UInt64?
  /// Events per sample, when sampling by period.
  public var samplePeriod: UInt64?
  /// Time covered, first to last sample, in nanoseconds.
  public var durationNanoseconds: UInt64 = 0
  /// Samples the transport lost (perf ring full, BPF ringbuf reserve failures).
  public var lost: UInt64 = 0
  /// Samples dropped for other reasons (stack map collisions, full maps, LOST_SAMPLES).
  public var dropped: UInt64 = 0

  public init() {}

  /// Total samples over all entries.
  public var sampleCount: UInt64 { entries.reduce(0) { $0.saturatingAdd($1.count) } }
  /// Total weight over all entries (saturating: weights come from files and the kernel).
  public var totalWeight: UInt64 { entries.reduce(0) { $0.saturatingAdd($1.weight) } }

  /// The location ids of stack `id`, leaf first.
  public func stack(_ id: Int) -> ArraySlice<UInt32> { stacks[id] }

  /// Bytes held by the tables that grow with distinct data (locations, stacks, threads, entries), for
  /// memory bounds: they must not grow with the number of samples.
  public var tableBytes: Int {
    locations.capacity * MemoryLayout<Location>.stride + stacks.storageBytes
      + threads.capacity * MemoryLayout<Thread>.stride + entries.capacity * MemoryLayout<Entry>.stride
  }
}
