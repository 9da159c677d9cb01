import CLibbpf
import PerfEvents
import Synchronization
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Receives raw records from libbpf's buffer callbacks and hands them to the typed reader.
final class RecordSink: @unchecked Sendable {
  var handle: (UnsafeRawBufferPointer, Int32) -> Void = { _, _ in }
  var lost: (UInt64) -> Void = { _ in }
}

/// Consumes a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) as typed events.
///
/// libbpf's consumer does what the ring requires: acquire-load the producer position and each record
/// header, stop at a record still BUSY, skip DISCARDed ones, advance by round_up(len + 8, 8) and
/// release-store the consumer position. Two ways to read: `drain()` on a timer (or `batches(every:)`),
/// or `events()`, an async stream woken by epoll when the producer submits. The kernel counts no drops
/// for ringbufs: the BPF program must count its failed reserves (see ringbuf.bpf.c).
public final class RingBufferReader<Event: BitwiseCopyable & Sendable>: @unchecked Sendable {
  public let object: BPFObject
  public let mapName: String
  private let sink = RecordSink()
  private let access = Mutex(UnsafeHandle())
  private var pending: [Event] = []
  /// Set while `drain(each:)` runs: records are handed over in place instead of collected.
  private var visitor: ((UnsafePointer<Event>) -> Void)?
  /// Records shorter than `Event` (never produced by Sonde's programs; counted rather than trusted).
  public private(set) var malformedRecords = 0
  private var poller: BlockingThread?

  /// Opens a reader on the ringbuf map `map` of a loaded object.
  public init(object: BPFObject, map: String) throws(SondeError) {
    self.object = object
    self.mapName = map
    let handle = try object.mapHandle(map)
    let operation = "open ring buffer \(map)"
    guard bpf_map__type(handle) == BPF_MAP_TYPE_RINGBUF else {
      throw SondeError.invalid(operation, "map \(map) is not a BPF_MAP_TYPE_RINGBUF")
    }
    let fd = bpf_map__fd(handle)
    guard object.isLoaded, fd >= 0 else { throw SondeError.invalid(operation, "the object is not loaded") }
    sink.handle = { [unowned self] bytes, _ in
      if bytes.count >= MemoryLayout<Event>.size {
        if let visitor, let base = bytes.baseAddress,
          Int(bitPattern: base) % MemoryLayout<Event>.alignment == 0
        {
          visitor(base.assumingMemoryBound(to: Event.self))
        } else {
          pending.append(bytes.loadUnaligned(as: Event.self))
        }
      } else {
        malformedRecords += 1
      }
    }
    let context = Unmanaged.passUnretained(sink).toOpaque()
    let ring = ring_buffer__new(
      fd,
      { context, data, size in
        guard let context, let data else { return 0 }
        let sink = Unmanaged<RecordSink>.fromOpaque(context).takeUnretainedValue()
        sink.handle(UnsafeRawBufferPointer(start: data, count: size), -1)
        return 0
      }, context, nil)
    guard let ring else { throw BPFErrors.explain(operation, errno: errno) }
    access.withLock { $0.pointer = ring }
  }

  deinit { close() }

  /// Stops any stream and releases the ring mapping.
  public func close() {
    poller?.stop()
    poller = nil
    access.withLock { ring in
      if let current = ring.pointer { ring_buffer__free(current) }
      ring.pointer = nil
    }
  }

  /// libbpf's epoll descriptor for the ring (readable when records were submitted with a wake-up), to wait
  /// on it beside other descriptors (an `EventWaiter`) and then `drain()`. -1 once closed.
  public var waitDescriptor: Int32 {
    access.withLock { ring in ring.pointer.map { ring_buffer__epoll_fd($0) } ?? -1 }
  }

  /// Consumes every record available now, without waiting.
  public func drain() throws(SondeError) -> [Event] {
    try consume { ring_buffer__consume($0) }
  }

  /// Consumes every record available now, handing each to `body` where it lies in the ring (no copy; the
  /// pointer is valid only during the call). For large records read at high rates, such as stacks.
  /// Returns how many records there were.
  @discardableResult
  public func drain(each body: (UnsafePointer<Event>) -> Void) throws(SondeError) -> Int {
    var count = 0
    let records = try withoutActuallyEscaping(body) { (body) throws(SondeError) -> [Event] in
      visitor = { pointer in
        count += 1
        body(pointer)
      }
      defer { visitor = nil }
      return try drain()
    }
    // A record the ring did not align (never, for 8-aligned types) was copied instead.
    for var record in records {
      count += 1
      withUnsafePointer(to: &record) { body($0) }
    }
    return count
  }

  /// Waits up to `timeoutMilliseconds` (epoll) for records, then consumes what is available.
  public func poll(timeoutMilliseconds: Int32) throws(SondeError) -> [Event] {
    try consume { ring_buffer__poll($0, timeoutMilliseconds) }
  }

  private func consume(_ call: (OpaquePointer) -> Int32) throws(SondeError) -> [Event] {
    let result: Result<[Event], SondeError> = access.withLock { handle in
      guard let ring = handle.pointer else {
        return .failure(SondeError.invalid("read ring buffer \(mapName)", "the reader is closed"))
      }
      let rc = call(ring)
      if rc < 0 && -rc != EINTR { return .failure(BPFErrors.explain("read ring buffer \(mapName)", errno: -rc)) }
      defer { pending.removeAll(keepingCapacity: true) }
      return .success(pending)
    }
    return try result.get()
  }

  /// An async stream of events, woken by epoll on the ring; ends when the stream is dropped or `close()`.
  public func events(pollTimeoutMilliseconds: Int32 = 100) -> AsyncStream<Event> {
    let (stream, continuation) = AsyncStream<Event>.makeStream()
    startPoller { reader in
      for event in (try? reader.poll(timeoutMilliseconds: pollTimeoutMilliseconds)) ?? [] {
        continuation.yield(event)
      }
    } onStop: {
      continuation.finish()
    }
    continuation.onTermination = { [weak self] _ in self?.poller?.requestStop() }
    return stream
  }

  /// Timer-driven drain: every `interval`, the events that arrived since the last drain (possibly none).
  public func batches(every interval: Duration) -> AsyncStream<[Event]> {
    AsyncStream { [weak self] in
      try? await Task.sleep(for: interval)
      guard let self else { return nil }
      return try? self.drain()
    }
  }

  private func startPoller(
    _ step: @escaping @Sendable (RingBufferReader) -> Void, onStop: @escaping @Sendable () -> Void
  ) {
    poller?.stop()
    poller = BlockingThread { [weak self] thread in
      while !thread.isStopped, let reader = self { step(reader) }
      onStop()
    }
  }
}
