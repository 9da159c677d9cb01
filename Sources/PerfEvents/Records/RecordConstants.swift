/// The `sample_type` bits of perf_event_attr: which fields a PERF_RECORD_SAMPLE carries, in this order.
public struct SampleType: OptionSet, Sendable, Hashable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  public static let ip = SampleType(rawValue: 1 << 0)
  public static let tid = SampleType(rawValue: 1 << 1)
  public static let time = SampleType(rawValue: 1 << 2)
  public static let addr = SampleType(rawValue: 1 << 3)
  public static let read = SampleType(rawValue: 1 << 4)
  public static let callchain = SampleType(rawValue: 1 << 5)
  public static let id = SampleType(rawValue: 1 << 6)
  public static let cpu = SampleType(rawValue: 1 << 7)
  public static let period = SampleType(rawValue: 1 << 8)
  public static let streamID = SampleType(rawValue: 1 << 9)
  public static let raw = SampleType(rawValue: 1 << 10)
  public static let branchStack = SampleType(rawValue: 1 << 11)
  public static let regsUser = SampleType(rawValue: 1 << 12)
  public static let stackUser = SampleType(rawValue: 1 << 13)
  public static let weight = SampleType(rawValue: 1 << 14)
  public static let dataSource = SampleType(rawValue: 1 << 15)
  public static let identifier = SampleType(rawValue: 1 << 16)
  public static let transaction = SampleType(rawValue: 1 << 17)
  public static let regsIntr = SampleType(rawValue: 1 << 18)
  public static let physAddr = SampleType(rawValue: 1 << 19)
  public static let aux = SampleType(rawValue: 1 << 20)
  public static let cgroup = SampleType(rawValue: 1 << 21)
  public static let dataPageSize = SampleType(rawValue: 1 << 22)
  public static let codePageSize = SampleType(rawValue: 1 << 23)
  public static let weightStruct = SampleType(rawValue: 1 << 24)
}

// `ReadFormat` (the read_format bits) is defined with the counters in CounterReading.swift.

/// PERF_RECORD_* type numbers: kernel records (< 64) and the perf tool's own file records (≥ 64).
public enum RecordType {
  public static let mmap: UInt32 = 1
  public static let lost: UInt32 = 2
  public static let comm: UInt32 = 3
  public static let exit: UInt32 = 4
  public static let throttle: UInt32 = 5
  public static let unthrottle: UInt32 = 6
  public static let fork: UInt32 = 7
  public static let read: UInt32 = 8
  public static let sample: UInt32 = 9
  public static let mmap2: UInt32 = 10
  public static let aux: UInt32 = 11
  public static let itraceStart: UInt32 = 12
  public static let lostSamples: UInt32 = 13
  public static let switchTask: UInt32 = 14
  public static let switchCPUWide: UInt32 = 15
  public static let namespaces: UInt32 = 16
  public static let ksymbol: UInt32 = 17
  public static let bpfEvent: UInt32 = 18
  public static let cgroup: UInt32 = 19
  public static let textPoke: UInt32 = 20
  public static let auxOutputHardwareID: UInt32 = 21
  // perf tool (user) records, found only in perf.data files and pipes.
  public static let headerAttr: UInt32 = 64
  public static let headerEventType: UInt32 = 65
  public static let headerTracingData: UInt32 = 66
  public static let headerBuildID: UInt32 = 67
  public static let finishedRound: UInt32 = 68
  public static let idIndex: UInt32 = 69
  public static let threadMap: UInt32 = 73
  public static let cpuMap: UInt32 = 74
  public static let timeConv: UInt32 = 79
  public static let headerFeature: UInt32 = 80
  public static let compressed: UInt32 = 81
  public static let finishedInit: UInt32 = 82
}

/// `misc` bits of perf_event_header.
public enum RecordMisc {
  public static let cpumodeMask: UInt16 = 7
  public static let cpumodeUnknown: UInt16 = 0
  public static let kernel: UInt16 = 1
  public static let user: UInt16 = 2
  public static let hypervisor: UInt16 = 3
  public static let guestKernel: UInt16 = 4
  public static let guestUser: UInt16 = 5
  /// MMAP/MMAP2 of a non-executable mapping (data, with attr.mmap_data).
  public static let mmapData: UInt16 = 1 << 13
  /// COMM caused by exec.
  public static let commExec: UInt16 = 1 << 13
  /// SWITCH / SWITCH_CPU_WIDE: switching out (else in).
  public static let switchOut: UInt16 = 1 << 13
  /// SWITCH out because of preemption.
  public static let switchOutPreempt: UInt16 = 1 << 14
  /// MMAP2 carries a build id instead of device/inode.
  public static let mmapBuildID: UInt16 = 1 << 14
  /// Sample IP is exact (precise_ip).
  public static let exactIP: UInt16 = 1 << 14
  /// perf.data BUILD_ID record carries an explicit build-id size.
  public static let buildIDSize: UInt16 = 1 << 15
}

/// Callchain context markers: entries ≥ PERF_CONTEXT_MAX are not addresses but say whose frames follow.
public enum CallchainContext {
  public static let hypervisor: UInt64 = UInt64(bitPattern: -32)
  public static let kernel: UInt64 = UInt64(bitPattern: -128)
  public static let user: UInt64 = UInt64(bitPattern: -512)
  public static let guest: UInt64 = UInt64(bitPattern: -2048)
  public static let guestKernel: UInt64 = UInt64(bitPattern: -2176)
  public static let guestUser: UInt64 = UInt64(bitPattern: -2560)
  public static let max: UInt64 = UInt64(bitPattern: -4095)

  /// Whether a callchain entry is a context marker rather than an address.
  @inlinable public static func isMarker(_ value: UInt64) -> Bool { value >= max }
}

/// branch_sample_type bits that change the sample layout.
public enum BranchSampleType {
  /// The branch stack is preceded by the hardware index.
  public static let hardwareIndex: UInt64 = 1 << 17
  /// Each branch is followed by occurrence counters (one u64 per entry, kernel ≥ 6.8).
  public static let counters: UInt64 = 1 << 19
}
