import CLibbpf
import PerfEvents
import Synchronization
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Consumes a perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY) written with bpf_perf_event_output.
///
/// libbpf opens one perf ring per online CPU and stores its fd in the map. Each record arrives with its
/// CPU; records the kernel could not write are reported by PERF_RECORD_LOST and summed in `lostRecords`.
public final class PerfBufferReader<Event: BitwiseCopyable & Sendable>: @unchecked Sendable {
  public let object: BPFObject
  public let mapName: String
  private let sink = RecordSink()
  private let access = Mutex(UnsafeHandle())
  private var pending: [(cpu: Int32, event: Event)] = []
  /// Records the kernel dropped because a per-CPU ring was full (from PERF_RECORD_LOST).
  public private(set) var lostRecords: UInt64 = 0
  /// Records shorter than `Event`.
  public private(set) var malformedRecords = 0
  private var poller: BlockingThread?

  /// Opens a reader with `pagesPerCPU` data pages (a power of two) per CPU ring.
  public init(object: BPFObject, map: String, pagesPerCPU: Int = 64) throws(SondeError) {
    self.object = object
    self.mapName = map
    let handle = try object.mapHandle(map)
    let operation = "open perf buffer \(map)"
    guard bpf_map__type(handle) == BPF_MAP_TYPE_PERF_EVENT_ARRAY else {
      throw SondeError.invalid(operation, "map \(map) is not a BPF_MAP_TYPE_PERF_EVENT_ARRAY")
    }
    guard pagesPerCPU > 0, pagesPerCPU & (pagesPerCPU - 1) == 0 else {
      throw SondeError.invalid(operation, "pages per CPU must be a power of two, not \(pagesPerCPU)")
    }
    let fd = bpf_map__fd(handle)
    guard object.isLoaded, fd >= 0 else { throw SondeError.invalid(operation, "the object is not loaded") }
    sink.handle = { [unowned self] bytes, cpu in
      // Raw samples are padded to 8 bytes: the event is a prefix.
      if bytes.count >= MemoryLayout<Event>.size {
        pending.append((cpu, bytes.loadUnaligned(as: Event.self)))
      } else {
        malformedRecords += 1
      }
    }
    sink.lost = { [unowned self] count in
      let (sum, overflow) = lostRecords.addingReportingOverflow(count)
      lostRecords = overflow ? .max : sum  // saturating: the count comes from the kernel's records
    }
    let context = Unmanaged.passUnretained(sink).toOpaque()
    let buffer = perf_buffer__new(
      fd, pagesPerCPU,
      { context, cpu, data, size in
        guard let context, let data else { return }
        Unmanaged<RecordSink>.fromOpaque(context).takeUnretainedValue().handle(
          UnsafeRawBufferPointer(start: data, count: Int(size)), cpu)
      },
      { context, _, count in
        guard let context else { return }
        Unmanaged<RecordSink>.fromOpaque(context).takeUnretainedValue().lost(count)
      }, context, nil)
    guard let buffer else { throw BPFErrors.explain(operation, errno: errno) }
    access.withLock { $0.pointer = buffer }
  }

  deinit { close() }

  /// Closes every per-CPU ring (after stopping any stream).
  public func close() {
    poller?.stop()
    poller = nil
    access.withLock { buffer in
      if let current = buffer.pointer { perf_buffer__free(current) }
      buffer.pointer = nil
    }
  }

  /// Consumes every record available now on every CPU, with the CPU it came from.
  public func drain() throws(SondeError) -> [(cpu: Int32, event: Event)] {
    try consume { perf_buffer__consume($0) }
  }

  /// Waits up to `timeoutMilliseconds` (epoll over all CPU rings), then consumes.
  public func poll(timeoutMilliseconds: Int32) throws(SondeError) -> [(cpu: Int32, event: Event)] {
    try consume { perf_buffer__poll($0, timeoutMilliseconds) }
  }

  private func consume(_ call: (OpaquePointer) -> Int32) throws(SondeError) -> [(cpu: Int32, event: Event)] {
    let result: Result<[(cpu: Int32, event: Event)], SondeError> = access.withLock { handle in
      guard let buffer = handle.pointer else {
        return .failure(SondeError.invalid("read perf buffer \(mapName)", "the reader is closed"))
      }
      let rc = call(buffer)
      if rc < 0 && -rc != EINTR { return .failure(BPFErrors.explain("read perf buffer \(mapName)", errno: -rc)) }
      defer { pending.removeAll(keepingCapacity: true) }
      return .success(pending)
    }
    return try result.get()
  }

  /// An async stream of (cpu, event), woken by epoll over every CPU ring; ends when dropped or closed.
  public func events(pollTimeoutMilliseconds: Int32 = 100) -> AsyncStream<(cpu: Int32, event: Event)> {
    let (stream, continuation) = AsyncStream<(cpu: Int32, event: Event)>.makeStream()
    poller?.stop()
    poller = BlockingThread { [weak self] thread in
      while !thread.isStopped, let reader = self {
        for record in (try? reader.poll(timeoutMilliseconds: pollTimeoutMilliseconds)) ?? [] {
          continuation.yield(record)
        }
      }
      continuation.finish()
    }
    continuation.onTermination = { [weak self] _ in self?.poller?.requestStop() }
    return stream
  }
}
