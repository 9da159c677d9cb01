import PerfEvents
import Profiles
import SondeSystem

/// The one pass over a perf.data file's records that report and script share: records in time order, thread
/// names over time (COMM, and FORK inheriting the parent's), each event's name (the file's descriptions, else
/// perf's name for its attr, through `EventCatalog`), and samples decoded in place (`SampleView`).
public struct RecordWalker {
  public let file: PerfDataFile
  /// Each thread's current name, and the serial number of that naming (unique per COMM or FORK seen).
  private var comm: [Int32: (name: String, serial: Int)] = [:]
  private var serial = 0
  /// The last sample's thread, reused while no thread was named since (consecutive samples share threads).
  private var lastThread: (thread: SampledThread, serial: Int)?

  /// A sampled thread: ids, its name at the sample's time, and the serial of that name (equal serials and
  /// ids mean an equal thread, so callers can cache per thread without comparing names).
  public struct SampledThread {
    public var pid: Int32
    public var tid: Int32
    public var comm: String
    /// The naming's serial; negative for the default names (`swapper`, `:tid`).
    public var serial: Int
    public var profileThread: Profile.Thread { Profile.Thread(pid: pid, tid: tid, comm: comm) }
  }

  /// What the walk hands its caller.
  public enum Item {
    /// A sample (valid only during the call), its record's misc bits and its thread.
    case sample(SampleView, misc: UInt16, thread: SampledThread)
    case mapping(MmapRecord)
    /// PERF_RECORD_LOST: samples the ring had no room for.
    case lost(UInt64)
    /// PERF_RECORD_LOST_SAMPLES: samples dropped for other reasons.
    case lostSamples(UInt64)
  }

  public init(file: PerfDataFile) {
    self.file = file
  }

  /// Each event's name: from the file's event descriptions, else perf's name for its attr.
  public static func eventNames(_ file: PerfDataFile) -> [String] {
    file.events.map { e in
      e.name.isEmpty ? EventCatalog.name(type: e.attributes.type, config: e.attributes.config) : e.name
    }
  }

  /// Walks every record in time order. Corrupt records end the walk with a `.corruptData` error.
  public mutating func walk(_ body: (Item) throws(SondeError) -> Void) throws(SondeError) -> PerfDataFile.Scan {
    let path = file.path
    do {
      return try file.forEachRecordInTimeOrder { offset, bytes, decoder in
        do {
          let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
          if type == RecordType.sample {
            let misc = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
            try decoder.withSampleView(bytes, base: offset) { view in
              try body(.sample(view, misc: misc, thread: thread(view.head)))
            }
            return
          }
          // Side-band records are few: each is decoded whole, so a corrupt one is reported wherever it is.
          switch try decoder.decode(bytes, base: offset).body {
          case .comm(let c): name(Int32(bitPattern: c.tid), c.comm)
          case .fork(let t):
            if let parent = comm[Int32(bitPattern: t.ptid)] { name(Int32(bitPattern: t.tid), parent.name) }
          case .mmap(let m), .mmap2(let m): try body(.mapping(m))
          case .lost(_, let n): try body(.lost(n))
          case .lostSamples(let n): try body(.lostSamples(n))
          default: break
          }
        } catch let error as RecordDecodeError {
          throw PerfDataFile.corrupt(path, error.offset, error.reason)
        }
      }
    } catch let e as SondeError {
      throw e
    } catch {
      throw SondeError(.corruptData, operation: "read \(file.path)", reason: "\(error)")
    }
  }

  private mutating func name(_ tid: Int32, _ name: String) {
    serial += 1
    comm[tid] = (name, serial)
  }

  private mutating func thread(_ head: SampleHead) -> SampledThread {
    let pid = Int32(bitPattern: head.pid)
    let tid = Int32(bitPattern: head.tid)
    if let last = lastThread, last.serial == serial, last.thread.tid == tid, last.thread.pid == pid {
      return last.thread
    }
    let thread: SampledThread
    if let named = comm[tid] ?? comm[pid] {
      thread = SampledThread(pid: pid, tid: tid, comm: named.name, serial: named.serial)
    } else {
      thread = SampledThread(pid: pid, tid: tid, comm: tid == 0 ? "swapper" : ":\(tid)", serial: -1)
    }
    lastThread = (thread, serial)
    return thread
  }
}
