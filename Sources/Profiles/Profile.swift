/// A CPU (or any event) profile, independent of how it was collected: interned stacks of raw addresses
/// (kernel and user parts, leaf first) per thread, with sample counts and weights, the address-space
/// mappings needed to symbolize them later, and what was lost on the way.
///
/// The perf-style client builds it from PERF_RECORD_SAMPLEs; the eBPF profiler builds the same model
/// from its stack maps, so every exporter works for both transports.
public struct Profile: Sendable {
  /// A call stack: kernel frames then user frames, each leaf first, as raw addresses.
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

  public var stacks: [Stack] = []
  public var threads: [Thread] = []
  public var entries: [Entry] = []
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
}

/// Builds a `Profile`, interning stacks and threads and aggregating repeated (stack, thread) pairs.
public struct ProfileBuilder: Sendable {
  public private(set) var profile = Profile()
  private var stackIndex: [Profile.Stack: Int] = [:]
  private var threadIndex: [Profile.Thread: Int] = [:]
  private var entryIndex: [Int: Int] = [:]
  private var firstTime: UInt64?
  private var lastTime: UInt64 = 0

  public init(eventName: String = "") { profile.eventName = eventName }

  /// Adds one sample (or `count` identical ones).
  public mutating func add(
    thread: Profile.Thread, stack: Profile.Stack, count: UInt64 = 1, weight: UInt64, time: UInt64? = nil
  ) {
    let s: Int
    if let i = stackIndex[stack] {
      s = i
    } else {
      s = profile.stacks.count
      profile.stacks.append(stack)
      stackIndex[stack] = s
    }
    let t: Int
    if let i = threadIndex[thread] {
      t = i
    } else {
      t = profile.threads.count
      profile.threads.append(thread)
      threadIndex[thread] = t
    }
    let key = s &* 1_000_003 &+ t
    if let e = entryIndex[key], profile.entries[e].stack == s, profile.entries[e].thread == t {
      profile.entries[e].count +|= count
      profile.entries[e].weight +|= weight
    } else {
      entryIndex[key] = profile.entries.count
      profile.entries.append(Profile.Entry(stack: s, thread: t, count: count, weight: weight))
    }
    if let time {
      if firstTime == nil { firstTime = time }
      lastTime = max(lastTime, time)
    }
  }

  /// Names the sampled event (when it is only known after reading, as in pipe-mode streams).
  public mutating func setEventName(_ name: String) { profile.eventName = name }

  public mutating func addMapping(_ mapping: Profile.Mapping) { profile.mappings.append(mapping) }
  public mutating func addLost(_ n: UInt64) { profile.lost +|= n }
  public mutating func addDropped(_ n: UInt64) { profile.dropped +|= n }
  public mutating func setRate(frequency: UInt64?, period: UInt64?) {
    profile.sampleFrequency = frequency
    profile.samplePeriod = period
  }

  /// The finished profile.
  public func build() -> Profile {
    var p = profile
    if let firstTime { p.durationNanoseconds = lastTime >= firstTime ? lastTime - firstTime : 0 }
    return p
  }
}
