import CLibbpf
import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Batch operations (BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH): one syscall per batch
/// instead of two per element.
///
/// The walk follows the kernel's contract: the first call passes a NULL in-batch cursor, every next call
/// passes back the previous out-batch; ENOENT ends the walk but may still return elements; ENOSPC (a
/// hash bucket larger than the buffer, nothing copied) means the buffer must grow, and the same call is
/// retried with the same cursor.
extension BPFMap {
  /// Reads every element in batches of up to `batchSize` (grown when a bucket does not fit).
  public func lookupBatch(batchSize: Int = 1024) throws(SondeError) -> [(key: Key, value: Value)] {
    try requireShared("batch lookup")
    return try decodeShared(walk(delete: false, batchSize: batchSize))
  }

  /// Reads and removes every element in batches: drains the map.
  public func lookupAndDeleteBatch(batchSize: Int = 1024) throws(SondeError) -> [(key: Key, value: Value)] {
    try requireShared("batch lookup-and-delete")
    return try decodeShared(walk(delete: true, batchSize: batchSize))
  }

  /// Per-CPU variant of `lookupBatch`: each value is one entry per possible CPU.
  public func lookupBatchPerCPU(batchSize: Int = 1024) throws(SondeError) -> [(key: Key, values: [Value])] {
    try decodePerCPUEntries(walk(delete: false, batchSize: batchSize))
  }

  /// Per-CPU variant of `lookupAndDeleteBatch`.
  public func lookupAndDeleteBatchPerCPU(batchSize: Int = 1024) throws(SondeError) -> [(key: Key, values: [Value])] {
    try decodePerCPUEntries(walk(delete: true, batchSize: batchSize))
  }

  /// How the last walk went: batches issued and times the buffer grew on ENOSPC (for tests and tuning).
  public struct BatchStatistics: Sendable, Equatable {
    public var calls = 0
    public var growths = 0
    public var finalBatchSize = 0
  }

  private func decodeShared(_ raw: RawBatch) -> [(key: Key, value: Value)] {
    (0..<raw.count).map { index in
      let key = raw.keys.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * raw.keySize, as: Key.self) }
      let value = raw.values.withUnsafeBytes {
        $0.loadUnaligned(fromByteOffset: index * raw.valueStride, as: Value.self)
      }
      return (key, value)
    }
  }

  private func decodePerCPUEntries(_ raw: RawBatch) -> [(key: Key, values: [Value])] {
    (0..<raw.count).map { index in
      let key = raw.keys.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * raw.keySize, as: Key.self) }
      let start = index * raw.valueStride
      return (key, decodePerCPU(raw.values[start..<start + raw.valueStride]))
    }
  }

  struct RawBatch {
    var keys: [UInt8] = []
    var values: [UInt8] = []
    var count = 0
    var keySize: Int
    var valueStride: Int
    var statistics = BatchStatistics()
  }

  /// The most bytes of values one batch call's buffer holds (unless a bucket needs more).
  static var maxBufferBytes: Int { 256 * 1024 }

  /// Walks the whole map with batch calls and returns the concatenated keys and values.
  func walk(delete: Bool, batchSize requested: Int) throws(SondeError) -> RawBatch {
    let operation = "\(delete ? "lookup-and-delete" : "lookup") batch of map \(name)"
    let fd = try fd(operation)
    let keySize = MemoryLayout<Key>.size
    let stride = valueStride
    var result = RawBatch(keySize: keySize, valueStride: stride)
    // At most `maxBufferBytes` of values a call: a stack map's values are a kilobyte each, and an
    // always-on reader should not touch a megabyte of buffer to drain a few dozen stacks.
    var batchSize = max(min(requested, Self.maxBufferBytes / max(stride, 1)), 1)
    // Cursors: opaque to user space; for hash maps the kernel stores a bucket index (u32).
    let cursorSize = max(keySize, 8)
    var inCursor = [UInt8](repeating: 0, count: cursorSize)
    var outCursor = [UInt8](repeating: 0, count: cursorSize)
    var first = true
    var keys = [UInt8](repeating: 0, count: batchSize * keySize)
    var values = [UInt8](repeating: 0, count: batchSize * stride)
    while true {
      var count = UInt32(clamping: batchSize)
      var opts = bpf_map_batch_opts()
      opts.sz = MemoryLayout<bpf_map_batch_opts>.size
      let rc = inCursor.withUnsafeMutableBytes { inBuffer in
        outCursor.withUnsafeMutableBytes { outBuffer in
          keys.withUnsafeMutableBytes { keyBuffer in
            values.withUnsafeMutableBytes { valueBuffer in
              let inPointer = first ? nil : UnsafeMutableRawPointer(inBuffer.baseAddress)
              return delete
                ? bpf_map_lookup_and_delete_batch(
                  fd, inPointer, outBuffer.baseAddress, keyBuffer.baseAddress, valueBuffer.baseAddress, &count, &opts)
                : bpf_map_lookup_batch(
                  fd, inPointer, outBuffer.baseAddress, keyBuffer.baseAddress, valueBuffer.baseAddress, &count, &opts)
            }
          }
        }
      }
      let code: Int32 = rc < 0 ? errno : 0
      result.statistics.calls += 1
      if code == ENOSPC && count == 0 {
        // A bucket holds more elements than the buffer: grow and retry from the same cursor. No bucket holds
        // more than the map does, so past that the kernel is saying something else.
        guard batchSize < max(Int(maxEntries), 1) else {
          throw SondeError(
            .system, operation: operation, errno: ENOSPC,
            reason: "the kernel wants a buffer larger than the map's \(maxEntries) entries")
        }
        batchSize = min(batchSize * 2, max(Int(maxEntries), 1))
        result.statistics.growths += 1
        keys = [UInt8](repeating: 0, count: batchSize * keySize)
        values = [UInt8](repeating: 0, count: batchSize * stride)
        continue
      }
      if code != 0 && code != ENOENT {
        if code == EINVAL || code == BPFErrors.ENOTSUPP || code == EOPNOTSUPP {
          throw BPFErrors.unsupported(
            operation, facility: .mapBatchOperations, cause: .unknown, errno: code,
            reason: "batch operations are not supported for this map type")
        }
        throw BPFErrors.explain(operation, errno: code)
      }
      let returned = Int(count)
      if returned > 0 {
        result.keys.append(contentsOf: keys[0..<returned * keySize])
        result.values.append(contentsOf: values[0..<returned * stride])
        result.count += returned
      }
      if code == ENOENT { break }  // the end, possibly after trailing elements
      swap(&inCursor, &outCursor)
      first = false
    }
    result.statistics.finalBatchSize = batchSize
    lastBatchStatistics = result.statistics
    return result
  }
}

extension BPFMap {
  /// Reads every element: batch lookup, or on kernels without batch operations element by element.
  public func readEntries() throws(SondeError) -> [(key: Key, value: Value)] {
    do {
      return try lookupBatch()
    } catch {
      return try entries()
    }
  }

  /// Reads and removes every element: batch lookup-and-delete, or on kernels without batch operations
  /// (before 5.6) element by element. Elements added meanwhile may or may not be included.
  public func drainEntries() throws(SondeError) -> [(key: Key, value: Value)] {
    do {
      return try lookupAndDeleteBatch()
    } catch {
      let entries = try self.entries()
      for entry in entries { _ = try delete(entry.key) }
      return entries
    }
  }
}

extension BPFMap where Key == UInt32, Value == UInt64 {
  /// A per-CPU array of counters (a program's accounting slots) summed over CPUs, slots 0..<`slots`.
  public func summedCounters(slots: Int) throws(SondeError) -> [UInt64] {
    var totals = [UInt64](repeating: 0, count: slots)
    for slot in totals.indices {
      let perCPU = try lookupPerCPU(UInt32(slot)) ?? []
      totals[slot] = perCPU.reduce(0) { $0 &+ $1 }
    }
    return totals
  }
}

extension BPFMap {
  /// Writes `values[i]` at `keys[i]` for every i (BPF_MAP_UPDATE_BATCH: one syscall per `batchSize` elements;
  /// element by element on kernels without batch operations). Shared (not per-CPU) maps only.
  public func updateBatch(keys: [Key], values: [Value], batchSize: Int = 4096) throws(SondeError) {
    try requireShared("batch update")
    let operation = "update batch of map \(name)"
    guard keys.count == values.count else {
      throw SondeError.invalid(operation, "\(keys.count) keys for \(values.count) values")
    }
    let fd = try fd(operation)
    var start = 0
    while start < keys.count {
      let end = min(start + max(batchSize, 1), keys.count)
      var count = UInt32(end - start)
      var opts = bpf_map_batch_opts()
      opts.sz = MemoryLayout<bpf_map_batch_opts>.size
      opts.elem_flags = UInt64(BPF_ANY)
      let rc = keys[start..<end].withUnsafeBytes { keyBuffer in
        values[start..<end].withUnsafeBytes { valueBuffer in
          bpf_map_update_batch(fd, keyBuffer.baseAddress, valueBuffer.baseAddress, &count, &opts)
        }
      }
      let code: Int32 = rc < 0 ? errno : 0
      if code == EINVAL || code == BPFErrors.ENOTSUPP || code == EOPNOTSUPP {
        for i in start..<end { try update(keys[i], values[i]) }
      } else if code != 0 {
        throw BPFErrors.explain(operation, errno: code)
      }
      start = end
    }
  }
}
