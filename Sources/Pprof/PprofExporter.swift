import Profiles
import SwiftProtobuf

/// Writes a `ResolvedProfile` as a pprof profile (gzipped protobuf, github.com/google/pprof's
/// proto/profile.proto), the format of `go tool pprof`, Parca, Pyroscope and Grafana.
///
/// The tables map one to one: each profile location becomes a pprof location (id = index + 1) with one
/// line naming its function; each resolved function becomes a pprof function; each entry becomes a sample
/// with labels for pid, tid and comm. User locations point at the mapping that held their address (the
/// newest, as after exec), with the file's build-id when known; kernel locations share one
/// `[kernel.kallsyms]` mapping. A location whose function is unknown gets no line, so pprof shows its
/// address and module rather than merging every unknown frame into one.
public enum PprofExporter {
  /// A value type: what a sample value measures and its unit (pprof's `ValueType`, by name).
  public struct ValueType: Sendable, Hashable {
    public var type: String
    public var unit: String
    public init(_ type: String, _ unit: String) {
      self.type = type
      self.unit = unit
    }
  }

  /// What the values of every sample are (two, or the weight alone), and what one sample stands for.
  public struct Options: Sendable {
    /// The first value: the entry's sample count; nil leaves it out (a source that keeps only weights, such
    /// as the agent's off-CPU store), so each sample has the weight alone.
    public var countType: ValueType? = ValueType("samples", "count")
    /// The second value: the entry's weight, or its count times `weightPerSample`.
    public var weightType = ValueType("cpu", "nanoseconds")
    /// When set, the second value is count × this (transports whose weight is itself a count, such as a
    /// BPF profiler sampling at a fixed frequency); otherwise the entry's summed weight.
    public var weightPerSample: Int64?
    /// The event one sample stands for and how much of it (`period_type`, `period`).
    public var periodType = ValueType("cpu", "nanoseconds")
    public var period: Int64 = 0
    /// Wall-clock start of collection, nanoseconds since the epoch (0 when unknown).
    public var startTimeNanoseconds: Int64 = 0
    /// Free-text notes a viewer shows (`pprof -comments`): what was sampled and what was lost.
    public var comments: [String] = []
    /// Build-ids by mapping path, for mappings whose own build-id is not recorded.
    public var buildIDs: [String: [UInt8]] = [:]
    /// String labels added to each sample of a thread, by the thread's index in the profile (a continuous
    /// profiler's exe, container and unit), after pid, tid and comm.
    public var threadLabels: [Int: [(key: String, value: String)]] = [:]

    public init() {}

    /// CPU time sampled at `frequency` Hz, one sample standing for 1/frequency s: samples/count and
    /// cpu/nanoseconds; `weightIsCount` for transports that count samples rather than summing periods.
    public static func cpu(frequency: UInt64, weightIsCount: Bool) -> Options {
      var o = Options()
      o.period = frequency > 0 ? Int64(1_000_000_000 / frequency) : 0
      if weightIsCount { o.weightPerSample = o.period }
      return o
    }

    /// Time blocked off-CPU: waits/count and off_cpu/nanoseconds (the entry weight is nanoseconds).
    public static func offCPU() -> Options {
      var o = Options()
      o.countType = ValueType("waits", "count")
      o.weightType = ValueType("off_cpu", "nanoseconds")
      o.periodType = ValueType("off_cpu", "nanoseconds")
      o.period = 1
      return o
    }

    /// The value types that fit `profile`'s event: CPU time for the clock events (cpu-clock, task-clock),
    /// off-CPU time for Sonde's off-CPU profiles, event counts otherwise. `weightIsCount` says the
    /// transport's weights are sample counts (a BPF profiler) rather than summed periods (perf.data).
    public static func fitting(_ profile: Profile, weightIsCount: Bool) -> Options {
      switch withoutModifiers(profile.eventName) {
      case "offcpu-time":
        return .offCPU()
      case "cpu-clock", "task-clock":
        if let frequency = profile.sampleFrequency { return .cpu(frequency: frequency, weightIsCount: weightIsCount) }
        var o = Options()
        o.period = Int64(clamping: profile.samplePeriod ?? 0)
        if weightIsCount { o.weightPerSample = o.period }
        return o
      default:
        return .events(withoutModifiers(profile.eventName), period: profile.samplePeriod)
      }
    }

    /// `cpu-clock:ppp` → `cpu-clock`: perf writes event names with their modifiers; a tracepoint's
    /// `subsystem:name` has no modifier and stays whole.
    static func withoutModifiers(_ name: String) -> String {
      guard let colon = name.lastIndex(of: ":") else { return name }
      let suffix = name[name.index(after: colon)...]
      return !suffix.isEmpty && suffix.allSatisfy({ "ukhpPGHISDWeb".contains($0) }) ? String(name[..<colon]) : name
    }

    /// A sampled event other than time (page faults, cycles): samples/count and EVENT/count, the weight
    /// being the summed sample periods.
    public static func events(_ name: String, period: UInt64?) -> Options {
      var o = Options()
      o.weightType = ValueType(name.isEmpty ? "events" : name, "count")
      o.periodType = o.weightType
      o.period = Int64(clamping: period ?? 1)
      return o
    }
  }

  /// The profile message (not yet serialized).
  public static func message(_ profile: ResolvedProfile, options: Options) -> Perftools_Profiles_Profile {
    var strings = StringTable()
    let source = profile.source
    var out = Perftools_Profiles_Profile()
    out.sampleType = [options.countType, options.weightType].compactMap { $0 }.map { valueType($0, &strings) }
    out.periodType = valueType(options.periodType, &strings)
    out.period = options.period
    out.defaultSampleType = strings.index(options.weightType.type)
    out.timeNanos = options.startTimeNanoseconds
    out.durationNanos = Int64(clamping: source.durationNanoseconds)
    out.comment = options.comments.map { strings.index($0) }

    let mappings = MappingIndex(source.mappings, kernelLocations: source.locations.filter(\.isKernel))
    out.mapping = mappings.all.enumerated().map { index, m in
      var pm = Perftools_Profiles_Mapping()
      pm.id = UInt64(index + 1)
      pm.memoryStart = m.start
      pm.memoryLimit = m.end
      pm.fileOffset = m.fileOffset
      pm.filename = strings.index(m.path)
      if let id = m.buildID ?? options.buildIDs[m.path], !id.isEmpty { pm.buildID = strings.index(hex(id)) }
      // Sonde named the functions itself: pprof must not symbolize again from local binaries.
      pm.hasFunctions_p = true
      return pm
    }

    out.function = profile.functions.enumerated().map { index, f in
      var pf = Perftools_Profiles_Function()
      pf.id = UInt64(index + 1)
      pf.name = strings.index(f.name)
      pf.systemName = pf.name
      return pf
    }

    out.location = source.locations.enumerated().map { index, l in
      var pl = Perftools_Profiles_Location()
      pl.id = UInt64(index + 1)
      pl.address = l.address
      pl.mappingID = mappings.id(of: l)
      let function = Int(profile.functionOfLocation[index])
      if profile.functions[function].name != "[unknown]" {
        var line = Perftools_Profiles_Line()
        line.functionID = UInt64(function + 1)
        pl.line = [line]
      }
      return pl
    }

    let pidKey = strings.index("pid")
    let tidKey = strings.index("tid")
    let commKey = strings.index("comm")
    out.sample = source.entries.map { entry in
      var sample = Perftools_Profiles_Sample()
      sample.locationID = source.stack(entry.stack).map { UInt64($0) + 1 }
      let count = Int64(clamping: entry.count)
      let second =
        options.weightPerSample.map { count.multipliedReportingOverflow(by: $0) }
        .map { $0.overflow ? Int64.max : $0.partialValue } ?? Int64(clamping: entry.weight)
      sample.value = options.countType == nil ? [second] : [count, second]
      let thread = source.threads[entry.thread]
      sample.label = [
        label(pidKey, num: Int64(thread.pid)), label(tidKey, num: Int64(thread.tid)),
        label(commKey, str: strings.index(profile.comms[Int(profile.commOfThread[entry.thread])])),
      ]
      for (key, value) in options.threadLabels[entry.thread] ?? [] where !value.isEmpty {
        sample.label.append(label(strings.index(key), str: strings.index(value)))
      }
      return sample
    }
    out.stringTable = strings.strings
    return out
  }

  /// The gzipped protobuf bytes of a `.pb.gz` file.
  public static func render(_ profile: ResolvedProfile, options: Options) throws -> [UInt8] {
    let bytes: [UInt8] = try message(profile, options: options).serializedBytes()
    return try Gzip.compress(bytes)
  }

  private static func valueType(_ v: ValueType, _ strings: inout StringTable) -> Perftools_Profiles_ValueType {
    var t = Perftools_Profiles_ValueType()
    t.type = strings.index(v.type)
    t.unit = strings.index(v.unit)
    return t
  }

  private static func label(_ key: Int64, num: Int64 = 0, str: Int64 = 0) -> Perftools_Profiles_Label {
    var l = Perftools_Profiles_Label()
    l.key = key
    l.num = num
    l.str = str
    return l
  }

  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
  }
}

/// pprof's string table: every string once, entry 0 the empty string.
struct StringTable {
  private(set) var strings = [""]
  private var indexes = ["": Int64(0)]

  mutating func index(_ s: String) -> Int64 {
    if let i = indexes[s] { return i }
    let i = Int64(strings.count)
    strings.append(s)
    indexes[s] = i
    return i
  }
}

/// The pprof mappings of a profile and which one holds each location: a process's newest mapping holding
/// the address (later mappings win, as after exec), and one kernel mapping spanning the kernel addresses.
struct MappingIndex {
  private(set) var all: [Profile.Mapping] = []
  /// Per process, (mapping index into `all`) in order of appearance.
  private var byPid: [Int32: [Int]] = [:]
  private var kernel: Int?

  init(_ mappings: [Profile.Mapping], kernelLocations: [Profile.Location]) {
    for m in mappings where m.pid != -1 && m.end > m.start {
      byPid[m.pid, default: []].append(all.count)
      all.append(m)
    }
    if let low = kernelLocations.map(\.address).min(), let high = kernelLocations.map(\.address).max() {
      kernel = all.count
      all.append(Profile.Mapping(pid: -1, start: low, end: high &+ 1, fileOffset: 0, path: "[kernel.kallsyms]"))
    }
  }

  /// The pprof id (index + 1) of the mapping holding `location`, or 0 when none does.
  func id(of location: Profile.Location) -> UInt64 {
    if location.isKernel { return kernel.map { UInt64($0 + 1) } ?? 0 }
    guard let candidates = byPid[location.pid],
      let index = candidates.last(where: { all[$0].start <= location.address && location.address < all[$0].end })
    else { return 0 }
    return UInt64(index + 1)
  }
}
