import PerfEvents
import Profiles
import SondeSystem

/// The one pass over a perf.data file's records that report and script share: records in time order, thread
/// names over time (COMM, and FORK inheriting the parent's), each event's name (the file's descriptions, else
/// perf's name for its attr, through `EventCatalog`), and samples' stacks split at their context markers.
public struct RecordWalker {
  public let file: PerfDataFile
  /// The user-register mask of the first event (DWARF-mode samples carry the user IP there).
  private let regsUserMask: UInt64
  private var comm: [Int32: String] = [:]

  /// What the walk hands its caller.
  public enum Item {
    /// A sample, its stack (kernel then user frames, each leaf first) and its thread's name at that time.
    case sample(Sample, stack: Profile.Stack, thread: Profile.Thread)
    case mapping(MmapRecord)
    /// PERF_RECORD_LOST: samples the ring had no room for.
    case lost(UInt64)
    /// PERF_RECORD_LOST_SAMPLES: samples dropped for other reasons.
    case lostSamples(UInt64)
  }

  public init(file: PerfDataFile) {
    self.file = file
    regsUserMask = file.events.first?.attributes.sample_regs_user ?? 0
  }

  /// Each event's name: from the file's event descriptions, else perf's name for its attr.
  public static func eventNames(_ file: PerfDataFile) -> [String] {
    file.events.map { e in
      e.name.isEmpty ? EventCatalog.name(type: e.attributes.type, config: e.attributes.config) : e.name
    }
  }

  /// Walks every record in time order. Corrupt records end the walk with a `.corruptData` error.
  public mutating func walk(_ body: (Item) throws(SondeError) -> Void) throws(SondeError) -> PerfDataFile.Scan {
    do {
      return try file.forEachDecodedRecordInTimeOrder { record in
        switch record.body {
        case .sample(let s):
          let pid = Int32(bitPattern: s.pid)
          let tid = Int32(bitPattern: s.tid)
          let name = comm[tid] ?? comm[pid] ?? (tid == 0 ? "swapper" : ":\(tid)")
          let thread = Profile.Thread(pid: pid, tid: tid, comm: name)
          try body(.sample(s, stack: stack(s, misc: record.misc), thread: thread))
        case .comm(let c): comm[Int32(bitPattern: c.tid)] = c.comm
        case .fork(let t):
          if let parent = comm[Int32(bitPattern: t.ptid)] { comm[Int32(bitPattern: t.tid)] = parent }
        case .mmap(let m), .mmap2(let m): try body(.mapping(m))
        case .lost(_, let n): try body(.lost(n))
        case .lostSamples(let n): try body(.lostSamples(n))
        default: break
        }
      }
    } catch let e as SondeError {
      throw e
    } catch {
      throw SondeError(.corruptData, operation: "read \(file.path)", reason: "\(error)")
    }
  }

  /// A sample's stack: kernel frames then user frames, each leaf first; in DWARF mode, where the callchain has
  /// only kernel frames, the user IP from the sampled registers.
  public func stack(_ s: Sample, misc: UInt16) -> Profile.Stack {
    var stack = ProfileLoader.stack(s, misc: misc)
    if stack.user.isEmpty, let ip = ProfileLoader.userIP(s, mask: regsUserMask) { stack.user = [ip] }
    return stack
  }
}
