import CSonde
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The perf mmap ring buffer of one event fd: a control page plus 2^n data pages the kernel writes
/// records into.
///
/// Forward mode maps the control page writable: Sonde reads `data_head` with acquire semantics, consumes
/// records, then publishes `data_tail` with release semantics so the kernel may reuse the space (a full
/// ring makes the kernel drop records and emit PERF_RECORD_LOST). Backward (overwrite) mode maps it
/// read-only and pairs with `attr.write_backward`: the kernel overwrites the oldest records, and
/// `snapshot` reads the newest ones — a flight recorder.
public final class SampleRing: @unchecked Sendable {
  /// The event whose fd is mapped (kept alive as long as the ring).
  public let event: PerfEventFD
  /// Bytes of the data area (a power of two).
  public let dataSize: Int
  /// Whether this is an overwrite (backward, read-only) ring.
  public let overwrite: Bool

  private var base: UnsafeMutableRawPointer?
  private let mappedSize: Int
  private let dataOffset: Int
  /// Space for records that straddle the end of the data area.
  private var scratch: UnsafeMutableRawBufferPointer

  // Offsets in struct perf_event_mmap_page (uapi: fixed at 1024 for data_head).
  static let headOffset = 1024
  static let tailOffset = 1032
  static let dataOffsetField = 1040
  static let dataSizeField = 1048

  /// Maps `1 + dataPages` pages of `event`'s fd. `dataPages` must be a power of two.
  public init(event: PerfEventFD, dataPages: Int, overwrite: Bool = false) throws(SondeError) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    guard dataPages > 0, dataPages & (dataPages - 1) == 0 else {
      throw SondeError.invalid(
        "mmap(\(event.label))", "the ring needs a power-of-two number of data pages, not \(dataPages)",
        remedy: "use -m with 1, 2, 4, 8, … pages")
    }
    let size = (1 + dataPages) * page
    let prot = overwrite ? PROT_READ : (PROT_READ | PROT_WRITE)
    let p: UnsafeMutableRawPointer
    do {
      p = try event.descriptor.map(length: size, protection: prot, flags: MAP_SHARED)
    } catch {
      let e = error.errno ?? 0
      throw SondeError(
        e == EPERM ? .permissionDenied : .system, operation: "mmap(\(event.label), \(size) bytes)", errno: e,
        reason: e == EPERM
          ? "the ring exceeds perf_event_mlock_kb for an unprivileged user" : errnoDescription(e),
        remedy: "use a smaller ring (-m) or run with CAP_IPC_LOCK/CAP_PERFMON")
    }
    self.event = event
    self.base = p
    self.mappedSize = size
    self.overwrite = overwrite
    let offsetField = p.load(fromByteOffset: Self.dataOffsetField, as: UInt64.self)
    let sizeField = p.load(fromByteOffset: Self.dataSizeField, as: UInt64.self)
    // Kernels before 4.1 leave data_offset/data_size zero: the data starts at the second page.
    self.dataOffset = offsetField != 0 ? Int(offsetField) : page
    self.dataSize = sizeField != 0 ? Int(sizeField) : dataPages * page
    self.scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
  }

  deinit {
    close()
    scratch.deallocate()
  }

  /// Unmaps the ring (the event fd stays open). Safe to call twice.
  public func close() {
    if let base {
      Syscall.unmap(base, length: mappedSize)
      self.base = nil
    }
  }

  private var headPointer: UnsafeMutablePointer<UInt64>? {
    base.map { ($0 + Self.headOffset).assumingMemoryBound(to: UInt64.self) }
  }
  private var tailPointer: UnsafeMutablePointer<UInt64>? {
    base.map { ($0 + Self.tailOffset).assumingMemoryBound(to: UInt64.self) }
  }

  /// Bytes written by the kernel and not yet consumed.
  public var pendingBytes: Int {
    guard let head = headPointer, let tail = tailPointer, !overwrite else { return 0 }
    return Int(truncatingIfNeeded: sonde_load_acquire_u64(head) &- tail.pointee)
  }

  /// Passes every available record (header included) to `body`, then releases their space to the kernel.
  /// A record that wraps around the end of the data area is copied out so `body` always sees contiguous
  /// bytes; the buffer is only valid during the call. Returns how many records were read.
  @discardableResult
  public func drain(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Int {
    var count = 0
    let end = try peek { _, bytes in
      try body(bytes)
      count += 1
    }
    release(upTo: end)
    return count
  }

  /// Forward mode: calls `body` with each unread record's ring position and bytes, oldest first, and gives
  /// no space back: a reader that writes only some records now releases the rest later (`release(upTo:)`).
  /// A record that wraps around the end of the data area is passed as a copy, valid only during the call.
  /// Returns the position after the last record passed.
  @discardableResult
  public func peek(upTo limit: UInt64? = nil, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Void) rethrows
    -> UInt64
  {
    guard let base, let headPtr = headPointer, let tailPtr = tailPointer, !overwrite else { return 0 }
    let head = limit ?? sonde_load_acquire_u64(headPtr)
    var position = tailPtr.pointee
    let data = UnsafeRawPointer(base + dataOffset)
    let mask = UInt64(dataSize - 1)
    while position < head {
      let start = Int(position & mask)
      let size = Int(readHeaderSize(data, at: start))
      if size < 8 || UInt64(size) > head - position { break }  // malformed: stop rather than spin
      try withRecord(data, start: start, size: size) { try body(position, $0) }
      position += UInt64(size)
    }
    return position
  }

  /// Forward mode: the unread bytes, from the tail to the head the kernel published (whole records), as one
  /// region or two when they wrap around the end of the data area. Nothing is released (`release(upTo:)`).
  public func unread() -> (first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer, head: UInt64, count: Int) {
    guard let base, let headPtr = headPointer, let tailPtr = tailPointer, !overwrite else {
      return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0), 0, 0)
    }
    let head = sonde_load_acquire_u64(headPtr)
    let tail = tailPtr.pointee
    // A head behind the tail or more than a ring ahead is not the kernel's: read nothing.
    guard head > tail, head - tail <= UInt64(dataSize) else {
      return (UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0), tail, 0)
    }
    let count = Int(head - tail)
    let data = UnsafeRawPointer(base + dataOffset)
    let start = Int(tail & UInt64(dataSize - 1))
    let first = min(count, dataSize - start)
    return (
      UnsafeRawBufferPointer(start: data + start, count: first),
      UnsafeRawBufferPointer(start: data, count: count - first), head, count
    )
  }

  /// Forward mode: gives the space before ring `position` back to the kernel (records up to there are done).
  public func release(upTo position: UInt64) {
    guard let tailPtr = tailPointer, !overwrite, position > tailPtr.pointee else { return }
    sonde_store_release_u64(tailPtr, position)
  }

  /// Overwrite mode: pauses the kernel's writes, passes the newest records (oldest first is not
  /// guaranteed; they come newest first, as the ring holds them), and resumes. Returns how many.
  @discardableResult
  public func snapshot(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
    guard let base, let headPtr = headPointer, overwrite else { return 0 }
    // Without the pause the kernel could overwrite records while they are read: a failure is an error.
    try event.pauseOutput(true)
    defer { try? event.pauseOutput(false) }
    let head = sonde_load_acquire_u64(headPtr)
    let data = UnsafeRawPointer(base + dataOffset)
    let mask = UInt64(dataSize - 1)
    // Backward rings grow downwards from 0: records lie forward from head; a zero header ends them
    // before the ring has wrapped once.
    var position = head
    var consumed = 0
    var count = 0
    while consumed < dataSize {
      let start = Int(position & mask)
      let size = Int(readHeaderSize(data, at: start))
      if size < 8 || consumed + size > dataSize { break }
      try withRecord(data, start: start, size: size, body)
      position &+= UInt64(size)
      consumed += size
      count += 1
    }
    return count
  }

  private func readHeaderSize(_ data: UnsafeRawPointer, at start: Int) -> UInt16 {
    // The 8-byte header never straddles the end: records are 8-aligned and the size is a power of two.
    data.loadUnaligned(fromByteOffset: start + 6, as: UInt16.self)
  }

  private func withRecord(
    _ data: UnsafeRawPointer, start: Int, size: Int, _ body: (UnsafeRawBufferPointer) throws -> Void
  ) rethrows {
    if start + size <= dataSize {
      try body(UnsafeRawBufferPointer(start: data + start, count: size))
    } else {
      let first = dataSize - start
      scratch.baseAddress!.copyMemory(from: data + start, byteCount: first)
      (scratch.baseAddress! + first).copyMemory(from: data, byteCount: size - first)
      try body(UnsafeRawBufferPointer(start: scratch.baseAddress, count: size))
    }
  }
}
