import CSonde

/// Fixed facts of the perf.data format (tools/perf/util/header.h, Documentation/perf.data-file-format.txt).
public enum PerfDataFormat {
  /// "PERFILE2" read as a little-endian u64.
  public static let magic: UInt64 = 0x3245_4c49_4652_4550
  /// The magic as a big-endian writer would have stored it.
  public static let swappedMagic: UInt64 = 0x5045_5246_494c_4532
  /// sizeof(struct perf_file_header): magic, size, attr_size, 3 sections, 256-bit feature bitmap.
  public static let fileHeaderSize = 104
  /// The header of perf.data before the feature bitmap existed.
  public static let legacyFileHeaderSize = 72
  /// sizeof(struct perf_pipe_file_header).
  public static let pipeHeaderSize = 16
  /// perf_event_attr bytes Sonde writes (PERF_ATTR_SIZE_VER7, what perf 6.1 understands).
  public static let attrSize = 128
  /// Strings in feature sections are padded to this (NAME_ALIGN).
  public static let nameAlign = 64
  /// Most events a file may define (a sanity cap against sparse files claiming huge attr sections).
  public static let maximumEvents: UInt64 = 1 << 16
  /// Most sample ids all events together may list.
  public static let maximumIDs: UInt64 = 1 << 24
}

/// A (offset, size) pair pointing into the file.
public struct FileSection: Sendable, Hashable {
  public var offset: UInt64
  public var size: UInt64
  public init(offset: UInt64, size: UInt64) {
    self.offset = offset
    self.size = size
  }
}

/// Feature section ids (HEADER_* in tools/perf/util/header.h): bit numbers in adds_features.
public enum FeatureID: Int, Sendable, CaseIterable {
  case tracingData = 1
  case buildID = 2
  case hostname = 3
  case osRelease = 4
  case version = 5
  case arch = 6
  case nrCPUs = 7
  case cpuDescription = 8
  case cpuID = 9
  case totalMemory = 10
  case cmdline = 11
  case eventDescription = 12
  case cpuTopology = 13
  case numaTopology = 14
  case branchStack = 15
  case pmuMappings = 16
  case groupDescription = 17
  case auxtrace = 18
  case stat = 19
  case cache = 20
  case sampleTime = 21
  case memoryTopology = 22
  case clockID = 23
  case directoryFormat = 24
  case bpfProgramInfo = 25
  case bpfBTF = 26
  case compressed = 27
  case cpuPMUCapabilities = 28
  case clockData = 29
  case hybridTopology = 30
  case pmuCapabilities = 31
}

/// One event of a perf.data file: its attributes, the kernel ids of its fds, and its name.
public struct PerfDataEvent: Sendable {
  public var attributes: perf_event_attr
  public var ids: [UInt64]
  public var name: String

  public init(attributes: perf_event_attr, ids: [UInt64], name: String) {
    self.attributes = attributes
    self.ids = ids
    self.name = name
  }

  /// The attr's bytes as perf.data stores them (PerfDataFormat.attrSize long, size field set).
  var fileBytes: [UInt8] {
    var attr = attributes
    attr.size = UInt32(PerfDataFormat.attrSize)
    var out = withUnsafeBytes(of: attr) { Array($0.prefix(PerfDataFormat.attrSize)) }
    while out.count < PerfDataFormat.attrSize { out.append(0) }
    return out
  }

  /// Decodes an attr of `size` bytes (older or newer than Sonde's struct), zero-extending or truncating.
  static func attr(from bytes: UnsafeRawBufferPointer) -> perf_event_attr {
    var attr = perf_event_attr()
    withUnsafeMutableBytes(of: &attr) { dst in
      let n = min(dst.count, bytes.count)
      if let d = dst.baseAddress, let b = bytes.baseAddress, n > 0 { d.copyMemory(from: b, byteCount: n) }
    }
    return attr
  }
}

/// A build id of a binary that samples hit (HEADER_BUILD_ID entries).
public struct BuildIDEntry: Sendable, Hashable {
  /// -1 (the host machine) for everything perf writes.
  public var pid: Int32
  /// PERF_RECORD_MISC_KERNEL for the kernel and modules, PERF_RECORD_MISC_USER otherwise.
  public var cpumode: UInt16
  public var buildID: [UInt8]
  public var filename: String

  public init(pid: Int32 = -1, cpumode: UInt16, buildID: [UInt8], filename: String) {
    self.pid = pid
    self.cpumode = cpumode
    self.buildID = buildID
    self.filename = filename
  }

  /// Lowercase hex, as perf prints build ids.
  public var hex: String {
    let digits = Array("0123456789abcdef")
    return String(buildID.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
  }
}

/// The environment and metadata features of a perf.data file.
public struct PerfDataFeatures: Sendable {
  public var hostname: String?
  public var osRelease: String?
  public var version: String?
  public var arch: String?
  public var cpusAvailable: UInt32?
  public var cpusOnline: UInt32?
  public var cpuDescription: String?
  public var cpuID: String?
  public var totalMemoryKB: UInt64?
  public var cmdline: [String]?
  public var buildIDs: [BuildIDEntry] = []
  /// Event names and ids from HEADER_EVENT_DESC.
  public var eventDescriptions: [(name: String, ids: [UInt64])] = []
  /// Tracepoint formats (HEADER_TRACING_DATA), present when a recorded event is a tracepoint.
  public var tracingData: TracingData?
  /// Feature bits present in the file that Sonde does not interpret.
  public var otherFeatures: [Int] = []

  public init() {}
}
