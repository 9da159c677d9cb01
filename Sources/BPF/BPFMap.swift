import CLibbpf
import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A live BPF map with typed keys and values.
///
/// `Key` and `Value` are plain C-layout types (usually structs from include/sonde/*.h, or fixed-width
/// integers) whose sizes must equal the map's key and value sizes. For per-CPU maps use the `…PerCPU`
/// methods: the kernel exchanges one value per *possible* CPU, each padded to 8 bytes.
public final class BPFMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: @unchecked Sendable {
  /// The object that owns the map (kept alive by the map).
  public let object: BPFObject
  public let name: String
  let handle: OpaquePointer
  /// Calls, buffer growths and final batch size of the last batch walk.
  public internal(set) var lastBatchStatistics = BatchStatistics()

  init(object: BPFObject, handle: OpaquePointer, name: String) throws(SondeError) {
    self.object = object
    self.handle = handle
    self.name = name
    let keySize = Int(bpf_map__key_size(handle))
    let valueSize = Int(bpf_map__value_size(handle))
    let expectsKey = type == BPF_MAP_TYPE_RINGBUF ? 0 : keySize
    if MemoryLayout<Key>.size != expectsKey && type != BPF_MAP_TYPE_RINGBUF {
      throw SondeError.invalid(
        "open map \(name)", "the map's key is \(keySize) bytes but \(Key.self) is \(MemoryLayout<Key>.size)")
    }
    if MemoryLayout<Value>.size != valueSize && type != BPF_MAP_TYPE_RINGBUF && !isPerfEventArray {
      throw SondeError.invalid(
        "open map \(name)", "the map's value is \(valueSize) bytes but \(Value.self) is \(MemoryLayout<Value>.size)")
    }
  }

  /// The kernel map type.
  public var type: bpf_map_type { bpf_map__type(handle) }
  /// Capacity: entries (or bytes, for a ringbuf).
  public var maxEntries: UInt32 { bpf_map__max_entries(handle) }
  var isPerfEventArray: Bool { type == BPF_MAP_TYPE_PERF_EVENT_ARRAY }

  /// Whether values are per CPU (one per possible CPU).
  public var isPerCPU: Bool {
    [
      BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_LRU_PERCPU_HASH,
      BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE,
    ]
    .contains(type)
  }

  /// The map's fd, for libbpf calls inside this module. Throws if the object is not loaded.
  func fd(_ operation: String) throws(SondeError) -> Int32 {
    let fd = bpf_map__fd(handle)
    guard object.isLoaded, fd >= 0 else {
      throw SondeError.invalid(operation, "map \(name) is not loaded", remedy: "call load() on its BPFObject first")
    }
    return fd
  }

  /// Bytes of one value slot as the kernel exchanges it: per-CPU values are round_up(size, 8) × possible CPUs.
  var valueStride: Int {
    isPerCPU ? (MemoryLayout<Value>.size + 7) / 8 * 8 * possibleCPUCount : MemoryLayout<Value>.size
  }

  /// Number of possible CPUs (libbpf reads /sys/devices/system/cpu/possible).
  var possibleCPUCount: Int { Int(max(libbpf_num_possible_cpus(), 1)) }

  // MARK: Single elements

  /// The value for `key`, or nil if absent.
  public func lookup(_ key: Key) throws(SondeError) -> Value? {
    try requireShared("lookup")
    var value = [UInt8](repeating: 0, count: MemoryLayout<Value>.size)
    guard try rawLookup(key, into: &value, operation: "lookup in map \(name)") else { return nil }
    return value.withUnsafeBytes { $0.loadUnaligned(as: Value.self) }
  }

  /// The per-CPU values for `key` (index = CPU number among possible CPUs), or nil if absent.
  public func lookupPerCPU(_ key: Key) throws(SondeError) -> [Value]? {
    var raw = [UInt8](repeating: 0, count: valueStride)
    guard try rawLookup(key, into: &raw, operation: "lookup in per-CPU map \(name)") else { return nil }
    return decodePerCPU(raw[...])
  }

  /// Inserts or replaces (`flags`: BPF_ANY, BPF_NOEXIST, BPF_EXIST).
  public func update(_ key: Key, _ value: Value, flags: UInt64 = UInt64(BPF_ANY)) throws(SondeError) {
    try requireShared("update")
    let failure = withUnsafeBytes(of: value) { bytes -> SondeError? in
      do {
        try rawUpdate(key, bytes.baseAddress!, flags: flags)
        return nil
      } catch let error as SondeError { return error } catch { return nil }
    }
    if let failure { throw failure }
  }

  /// Sets one value per possible CPU.
  public func updatePerCPU(_ key: Key, _ values: [Value], flags: UInt64 = UInt64(BPF_ANY)) throws(SondeError) {
    let slot = (MemoryLayout<Value>.size + 7) / 8 * 8
    guard values.count == possibleCPUCount else {
      throw SondeError.invalid(
        "update per-CPU map \(name)", "\(values.count) values given for \(possibleCPUCount) possible CPUs")
    }
    var raw = [UInt8](repeating: 0, count: valueStride)
    raw.withUnsafeMutableBytes { buffer in
      for (cpu, value) in values.enumerated() { buffer.storeBytes(of: value, toByteOffset: cpu * slot, as: Value.self) }
    }
    let failure = raw.withUnsafeBytes { bytes -> SondeError? in
      do {
        try rawUpdate(key, bytes.baseAddress!, flags: flags)
        return nil
      } catch let error as SondeError { return error } catch { return nil }
    }
    if let failure { throw failure }
  }

  /// Deletes `key`; returns whether it was present.
  @discardableResult
  public func delete(_ key: Key) throws(SondeError) -> Bool {
    let fd = try fd("delete from map \(name)")
    var key = key
    if bpf_map_delete_elem(fd, &key) != 0 {
      if errno == ENOENT { return false }
      throw BPFErrors.explain("delete from map \(name)", errno: errno)
    }
    return true
  }

  /// Every key, walked with BPF_MAP_GET_NEXT_KEY (a snapshot that may miss concurrent changes).
  public func keys() throws(SondeError) -> [Key] {
    let fd = try fd("iterate map \(name)")
    var keys: [Key] = []
    var current = [UInt8](repeating: 0, count: MemoryLayout<Key>.size)
    var next = current
    var first = true
    while true {
      let rc = current.withUnsafeBytes { cur in
        next.withUnsafeMutableBytes { nxt in bpf_map_get_next_key(fd, first ? nil : cur.baseAddress, nxt.baseAddress) }
      }
      if rc != 0 {
        if errno == ENOENT { break }
        throw BPFErrors.explain("iterate map \(name)", errno: errno)
      }
      keys.append(next.withUnsafeBytes { $0.loadUnaligned(as: Key.self) })
      swap(&current, &next)
      first = false
    }
    return keys
  }

  /// Every (key, value) pair of a shared (not per-CPU) map; keys deleted meanwhile are skipped.
  public func entries() throws(SondeError) -> [(key: Key, value: Value)] {
    var result: [(key: Key, value: Value)] = []
    for key in try keys() {
      if let value = try lookup(key) { result.append((key, value)) }
    }
    return result
  }

  /// Every (key, per-CPU values) pair of a per-CPU map; keys deleted meanwhile are skipped.
  public func entriesPerCPU() throws(SondeError) -> [(key: Key, values: [Value])] {
    var result: [(key: Key, values: [Value])] = []
    for key in try keys() {
      if let values = try lookupPerCPU(key) { result.append((key, values)) }
    }
    return result
  }

  // MARK: Helpers

  func requireShared(_ operation: String) throws(SondeError) {
    if isPerCPU {
      throw SondeError.invalid("\(operation) in map \(name)", "the map is per-CPU", remedy: "use the …PerCPU methods")
    }
  }

  func rawLookup(_ key: Key, into buffer: inout [UInt8], operation: String) throws(SondeError) -> Bool {
    let fd = try fd(operation)
    var key = key
    let rc = buffer.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &key, $0.baseAddress) }
    if rc != 0 {
      if errno == ENOENT { return false }
      throw BPFErrors.explain(operation, errno: errno)
    }
    return true
  }

  func rawUpdate(_ key: Key, _ value: UnsafeRawPointer, flags: UInt64) throws(SondeError) {
    let operation = "update map \(name)"
    let fd = try fd(operation)
    var key = key
    if bpf_map_update_elem(fd, &key, value, flags) != 0 {
      let code = errno
      if code == E2BIG {
        throw SondeError(
          .system, operation: operation, errno: code, reason: "the map is full (\(maxEntries) entries)",
          remedy: "raise its max_entries with setMaxEntries before load")
      }
      throw BPFErrors.explain(operation, errno: code)
    }
  }

  func decodePerCPU(_ raw: ArraySlice<UInt8>) -> [Value] {
    let slot = (MemoryLayout<Value>.size + 7) / 8 * 8
    return raw.withUnsafeBytes { bytes in
      (0..<possibleCPUCount).map { bytes.loadUnaligned(fromByteOffset: $0 * slot, as: Value.self) }
    }
  }
}

extension BPFMap {
  /// The kernel's id for the map (what `bpftool map show` lists), or nil if not loaded.
  public var kernelID: UInt32? {
    let fd = bpf_map__fd(handle)
    guard fd >= 0 else { return nil }
    var info = bpf_map_info()
    var length = UInt32(MemoryLayout<bpf_map_info>.size)
    guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0 else { return nil }
    return info.id
  }
}
