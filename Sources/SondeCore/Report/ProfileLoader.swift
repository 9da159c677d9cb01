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
  }

  public func load(_ file: PerfDataFile) throws(SondeError) -> (Profile, Summary) {
    var summary = Summary()
    let names = file.events.enumerated().map { i, e in e.name.isEmpty ? Self.eventName(e.attributes) : e.name }
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
    var comm: [Int32: String] = [:]
    let regsUserMask = file.events.first?.attributes.sample_regs_user ?? 0
    // Events sampled with a fixed period (-c) do not carry PERIOD in each sample: weigh by the attr's period.
    var fixedPeriod: [UInt64: UInt64] = [:]
    for e in file.events where e.attributes.freq == 0 {
      for id in e.ids { fixedPeriod[id] = e.attributes.sample_period }
    }
    let defaultPeriod = file.events.first.map { $0.attributes.freq == 0 ? $0.attributes.sample_period : 1 } ?? 1
    do {
      let scan = try file.forEachDecodedRecordInTimeOrder { record in
        switch record.body {
        case .sample(let s):
          summary.samples += 1
          let pid = Int32(bitPattern: s.pid)
          let tid = Int32(bitPattern: s.tid)
          let name = comm[tid] ?? comm[pid] ?? (tid == 0 ? "swapper" : ":\(tid)")
          if let eventIDs, !eventIDs.contains(s.eventID) { return }
          if !pids.isEmpty && !pids.contains(pid) { return }
          if !comms.isEmpty && !comms.contains(name) { return }
          var stack = Self.stack(s, misc: record.misc)
          if stack.user.isEmpty, let ip = Self.userIP(s, mask: regsUserMask) { stack.user = [ip] }
          let weight = s.period != 0 ? s.period : (fixedPeriod[s.eventID] ?? defaultPeriod)
          builder.add(
            thread: Profile.Thread(pid: pid, tid: tid, comm: name), stack: stack, weight: max(weight, 1),
            time: s.time)
        case .comm(let c):
          comm[Int32(bitPattern: c.tid)] = c.comm
        case .fork(let t):
          if let parent = comm[Int32(bitPattern: t.ptid)] { comm[Int32(bitPattern: t.tid)] = parent }
        case .mmap(let m), .mmap2(let m):
          builder.addMapping(
            Profile.Mapping(
              pid: Int32(bitPattern: m.pid), start: m.address, end: m.address.saturatingAdd(m.length),
              fileOffset: m.pageOffset,
              path: m.filename, buildID: m.buildID))
        case .lost(_, let n): builder.addLost(n)
        case .lostSamples(let n): builder.addDropped(n)
        default: break
        }
      }
      summary.records = scan.records
      summary.unknownRecords = scan.unknownRecords
      summary.bytes = scan.bytes
    } catch let e as SondeError {
      throw e
    } catch {
      throw SondeError(.corruptData, operation: "read \(file.path)", reason: "\(error)")
    }
    // Pipe-mode streams define their events as they go: name them now that all were seen.
    let finalNames = file.events.map { $0.name.isEmpty ? Self.eventName($0.attributes) : $0.name }
    if names.isEmpty, let first = finalNames.first {
      builder.setEventName(event.flatMap { finalNames.indices.contains($0) ? finalNames[$0] : nil } ?? first)
    }
    summary.eventNames = finalNames
    return (builder.build(), summary)
  }

  /// Frames kept per callchain, as `perf report`'s default `--max-stack` (the kernel's
  /// `perf_event_max_stack`, 127): a file's chain can claim thousands of frames, and a report of them must
  /// not grow with what the file claims.
  public static let maxStackFrames = 127

  /// Splits a callchain at its context markers: kernel frames, then user frames, each leaf first, keeping
  /// at most `maxStackFrames` frames (the leaf end).
  static func stack(_ s: Sample, misc: UInt16) -> Profile.Stack {
    if s.callchain.isEmpty {
      let kernel = misc & RecordMisc.cpumodeMask == RecordMisc.kernel
      return kernel ? Profile.Stack(kernel: [s.ip]) : Profile.Stack(user: [s.ip])
    }
    var stack = Profile.Stack()
    var inKernel = misc & RecordMisc.cpumodeMask == RecordMisc.kernel
    for a in s.callchain {
      if CallchainContext.isMarker(a) {
        if a == CallchainContext.kernel {
          inKernel = true
        } else if a == CallchainContext.user {
          inKernel = false
        } else {
          // Guest/hypervisor contexts are not attributed.
          continue
        }
        continue
      }
      if stack.kernel.count + stack.user.count == maxStackFrames { break }
      if inKernel { stack.kernel.append(a) } else { stack.user.append(a) }
    }
    return stack
  }

  /// The user-space instruction pointer from sampled user registers (DWARF mode: the callchain then
  /// has only kernel frames, and the registers say where user code was when it entered the kernel).
  static func userIP(_ s: Sample, mask: UInt64) -> UInt64? {
    let ipBit: UInt64 = 1 << 8  // PERF_REG_X86_IP
    guard s.regsUser.abi != 0, mask & ipBit != 0 else { return nil }
    let index = (mask & (ipBit - 1)).nonzeroBitCount
    return index < s.regsUser.values.count ? s.regsUser.values[index] : nil
  }

  /// perf's default name for an attr when the file carries no event description.
  static func eventName(_ a: perf_event_attr) -> String {
    switch (a.type, a.config) {
    case (1, 0): "cpu-clock"
    case (1, 1): "task-clock"
    case (1, 2): "page-faults"
    case (1, 3): "context-switches"
    case (0, 0): "cycles"
    case (0, 1): "instructions"
    default: "event-\(a.type):\(a.config)"
    }
  }
}
