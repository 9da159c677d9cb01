/// Builds a `Profile` sample by sample: interns locations, stacks and threads, and aggregates repeated
/// (stack, thread) pairs into one entry. Transports call `location`, `stack` and `thread` to get ids (and may
/// cache them: a perf reader caches a raw callchain's stack id, a BPF reader a stack map id's), then `add`.
public struct ProfileBuilder: Sendable {
  public private(set) var profile = Profile()
  private var locationIndex: [Profile.Location: UInt32] = [:]
  private var threadIndex: [Profile.Thread: Int] = [:]
  /// Entry of each (stack, thread) pair, packed as stack << 32 | thread (entry ids are dense, in order).
  private var entryIndex = IntegerMap(capacity: 1024)
  private var scratch: [UInt32] = []
  private var firstTime: UInt64?
  private var lastTime: UInt64 = 0

  public init(eventName: String = "") { profile.eventName = eventName }

  /// The id of a location, adding it when new.
  public mutating func location(_ location: Profile.Location) -> UInt32 {
    if let id = locationIndex[location] { return id }
    let id = UInt32(truncatingIfNeeded: profile.locations.count)
    profile.locations.append(location)
    locationIndex[location] = id
    return id
  }

  /// The id of a stack of location ids (leaf first), adding it when new.
  public mutating func stack(_ locations: UnsafeBufferPointer<UInt32>) -> Int {
    profile.stacks.intern(locations).id
  }

  /// The id of a stack given by raw addresses in `pid`'s address space (kernel frames then user frames, each
  /// leaf first; every frame but the first is a return address).
  public mutating func stack(_ stack: Profile.Stack, pid: Int32) -> Int {
    scratch.removeAll(keepingCapacity: true)
    for (i, address) in stack.kernel.enumerated() {
      scratch.append(location(Profile.Location(address: address, pid: pid, isKernel: true, isReturnAddress: i > 0)))
    }
    for (i, address) in stack.user.enumerated() {
      scratch.append(location(Profile.Location(address: address, pid: pid, isKernel: false, isReturnAddress: i > 0)))
    }
    let ids = scratch
    return ids.withUnsafeBufferPointer { self.stack($0) }
  }

  /// The id of a thread, adding it when new.
  public mutating func thread(_ thread: Profile.Thread) -> Int {
    if let id = threadIndex[thread] { return id }
    let id = profile.threads.count
    profile.threads.append(thread)
    threadIndex[thread] = id
    return id
  }

  /// Adds one sample (or `count` identical ones) of stack and thread ids.
  public mutating func add(stack: Int, thread: Int, count: UInt64 = 1, weight: UInt64, time: UInt64? = nil) {
    let key = UInt64(truncatingIfNeeded: stack) << 32 | UInt64(truncatingIfNeeded: thread)
    let (e, inserted) = entryIndex.id(key)
    if inserted {
      profile.entries.append(Profile.Entry(stack: stack, thread: thread, count: count, weight: weight))
    } else {
      profile.entries[e].count +|= count
      profile.entries[e].weight +|= weight
    }
    if let time {
      if firstTime == nil { firstTime = time }
      lastTime = max(lastTime, time)
    }
  }

  /// Adds one sample (or `count` identical ones) given by value: the convenient, slower form.
  public mutating func add(
    thread: Profile.Thread, stack: Profile.Stack, count: UInt64 = 1, weight: UInt64, time: UInt64? = nil
  ) {
    let s = self.stack(stack, pid: thread.pid)
    add(stack: s, thread: self.thread(thread), count: count, weight: weight, time: time)
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
