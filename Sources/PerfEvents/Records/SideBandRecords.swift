/// PERF_RECORD_MMAP / MMAP2: a new executable (or, with mmap_data, data) mapping.
public struct MmapRecord: Sendable, Hashable {
  public var pid: UInt32
  public var tid: UInt32
  public var address: UInt64
  public var length: UInt64
  public var pageOffset: UInt64
  /// MMAP2 only: device major/minor, inode and generation (absent in the build-id form).
  public var major: UInt32 = 0
  public var minor: UInt32 = 0
  public var inode: UInt64 = 0
  public var inodeGeneration: UInt64 = 0
  /// MMAP2 with PERF_RECORD_MISC_MMAP_BUILD_ID: the build id (≤ 20 bytes) instead of device/inode.
  public var buildID: [UInt8]? = nil
  /// MMAP2 only: PROT_* and MAP_* bits.
  public var protection: UInt32 = 0
  public var flags: UInt32 = 0
  public var filename: String

  public init(
    pid: UInt32, tid: UInt32, address: UInt64, length: UInt64, pageOffset: UInt64, filename: String
  ) {
    self.pid = pid
    self.tid = tid
    self.address = address
    self.length = length
    self.pageOffset = pageOffset
    self.filename = filename
  }
}

/// PERF_RECORD_COMM: a thread's command name changed (misc has COMM_EXEC when caused by exec).
public struct CommRecord: Sendable, Hashable {
  public var pid: UInt32
  public var tid: UInt32
  public var comm: String
  public init(pid: UInt32, tid: UInt32, comm: String) {
    self.pid = pid
    self.tid = tid
    self.comm = comm
  }
}

/// PERF_RECORD_FORK / EXIT.
public struct TaskRecord: Sendable, Hashable {
  public var pid: UInt32
  public var ppid: UInt32
  public var tid: UInt32
  public var ptid: UInt32
  public var time: UInt64
  public init(pid: UInt32, ppid: UInt32, tid: UInt32, ptid: UInt32, time: UInt64) {
    self.pid = pid
    self.ppid = ppid
    self.tid = tid
    self.ptid = ptid
    self.time = time
  }
}

/// PERF_RECORD_THROTTLE / UNTHROTTLE: the kernel limited (or resumed) an event's sample rate.
public struct ThrottleRecord: Sendable, Hashable {
  public var time: UInt64
  public var id: UInt64
  public var streamID: UInt64
  public init(time: UInt64, id: UInt64, streamID: UInt64) {
    self.time = time
    self.id = id
    self.streamID = streamID
  }
}

/// PERF_RECORD_NAMESPACES: a task's namespaces (dev, inode) in the kernel's index order.
public struct NamespacesRecord: Sendable, Hashable {
  public var pid: UInt32
  public var tid: UInt32
  public var namespaces: [(dev: UInt64, inode: UInt64)]

  public init(pid: UInt32, tid: UInt32, namespaces: [(dev: UInt64, inode: UInt64)]) {
    self.pid = pid
    self.tid = tid
    self.namespaces = namespaces
  }

  public static func == (a: Self, b: Self) -> Bool {
    a.pid == b.pid && a.tid == b.tid && a.namespaces.count == b.namespaces.count
      && zip(a.namespaces, b.namespaces).allSatisfy { $0.dev == $1.dev && $0.inode == $1.inode }
  }
  public func hash(into h: inout Hasher) {
    h.combine(pid)
    h.combine(tid)
    for n in namespaces {
      h.combine(n.dev)
      h.combine(n.inode)
    }
  }
}

/// PERF_RECORD_KSYMBOL: a kernel symbol (BPF program, ftrace trampoline) was registered or removed.
public struct KsymbolRecord: Sendable, Hashable {
  public var address: UInt64
  public var length: UInt32
  public var type: UInt16
  /// Bit 0: unregister.
  public var flags: UInt16
  public var name: String
  public init(address: UInt64, length: UInt32, type: UInt16, flags: UInt16, name: String) {
    self.address = address
    self.length = length
    self.type = type
    self.flags = flags
    self.name = name
  }
}

/// PERF_RECORD_BPF_EVENT: a BPF program was loaded or unloaded.
public struct BPFEventRecord: Sendable, Hashable {
  public var type: UInt16
  public var flags: UInt16
  public var id: UInt32
  public var tag: [UInt8]
  public init(type: UInt16, flags: UInt16, id: UInt32, tag: [UInt8]) {
    self.type = type
    self.flags = flags
    self.id = id
    self.tag = tag
  }
}

/// PERF_RECORD_TEXT_POKE: kernel text was modified.
public struct TextPokeRecord: Sendable, Hashable {
  public var address: UInt64
  public var oldBytes: [UInt8]
  public var newBytes: [UInt8]
  public init(address: UInt64, oldBytes: [UInt8], newBytes: [UInt8]) {
    self.address = address
    self.oldBytes = oldBytes
    self.newBytes = newBytes
  }
}

/// PERF_RECORD_AUX: new data in the AUX area.
public struct AuxRecord: Sendable, Hashable {
  public var offset: UInt64
  public var size: UInt64
  public var flags: UInt64
  public init(offset: UInt64, size: UInt64, flags: UInt64) {
    self.offset = offset
    self.size = size
    self.flags = flags
  }
}
