import Profiles

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

  /// The profile's protobuf bytes (not yet gzipped), field by field as proto/profile.proto numbers them.
  public static func encoded(_ profile: ResolvedProfile, options: Options) -> [UInt8] {
    var strings = StringTable()
    let source = profile.source
    var out = ProtobufWriter()
    let sampleTypes = [options.countType, options.weightType].compactMap { $0 }.map { strings.valueType($0) }
    for type in sampleTypes {
      out.message(Field.sampleType) {
        $0.int64(1, type.type)
        $0.int64(2, type.unit)
      }
    }

    let pidKey = strings.index("pid")
    let tidKey = strings.index("tid")
    let commKey = strings.index("comm")
    for entry in source.entries {
      let count = Int64(clamping: entry.count)
      let second =
        options.weightPerSample.map { count.multipliedReportingOverflow(by: $0) }
        .map { $0.overflow ? Int64.max : $0.partialValue } ?? Int64(clamping: entry.weight)
      let values = options.countType == nil ? [second] : [count, second]
      let thread = source.threads[entry.thread]
      var labels: [(key: Int64, num: Int64, str: Int64)] = [
        (pidKey, Int64(thread.pid), 0), (tidKey, Int64(thread.tid), 0),
        (commKey, 0, strings.index(profile.comms[Int(profile.commOfThread[entry.thread])])),
      ]
      for (key, value) in options.threadLabels[entry.thread] ?? [] where !value.isEmpty {
        labels.append((strings.index(key), 0, strings.index(value)))
      }
      out.message(Field.sample) { sample in
        sample.packed(1, source.stack(entry.stack).lazy.map { UInt64($0) + 1 })
        sample.packed(2, values.lazy.map { UInt64(bitPattern: $0) })
        for label in labels {
          sample.message(3) {
            $0.int64(1, label.key)
            $0.int64(2, label.str)
            $0.int64(3, label.num)
          }
        }
      }
    }

    let mappings = MappingIndex(source.mappings, kernelLocations: source.locations.filter(\.isKernel))
    for (index, m) in mappings.all.enumerated() {
      let filename = strings.index(m.path)
      let buildID = (m.buildID ?? options.buildIDs[m.path]).flatMap { $0.isEmpty ? nil : strings.index(hex($0)) }
      out.message(Field.mapping) {
        $0.varint(1, UInt64(index + 1))
        $0.varint(2, m.start)
        $0.varint(3, m.end)
        $0.varint(4, m.fileOffset)
        $0.int64(5, filename)
        $0.int64(6, buildID ?? 0)
        // Sonde named the functions itself: pprof must not symbolize again from local binaries.
        $0.bool(7, true)
      }
    }

    for (index, l) in source.locations.enumerated() {
      let function = Int(profile.functionOfLocation[index])
      let mappingID = mappings.id(of: l)
      out.message(Field.location) {
        $0.varint(1, UInt64(index + 1))
        $0.varint(2, mappingID)
        $0.varint(3, l.address)
        if profile.functions[function].name != "[unknown]" {
          $0.message(4) { $0.varint(1, UInt64(function + 1)) }
        }
      }
    }

    for (index, f) in profile.functions.enumerated() {
      let name = strings.index(f.name)
      out.message(Field.function) {
        $0.varint(1, UInt64(index + 1))
        $0.int64(2, name)
        $0.int64(3, name)
      }
    }

    // The strings of the fields after the table are interned before it is written.
    let periodType = strings.valueType(options.periodType)
    let comments = options.comments.map { strings.index($0) }
    let defaultSampleType = strings.index(options.weightType.type)
    for string in strings.strings { out.string(Field.stringTable, string) }
    out.int64(Field.timeNanos, options.startTimeNanoseconds)
    out.int64(Field.durationNanos, Int64(clamping: source.durationNanoseconds))
    out.message(Field.periodType) {
      $0.int64(1, periodType.type)
      $0.int64(2, periodType.unit)
    }
    out.int64(Field.period, options.period)
    out.packed(Field.comment, comments.lazy.map { UInt64(bitPattern: $0) })
    out.int64(Field.defaultSampleType, defaultSampleType)
    return out.bytes
  }

  /// The gzipped protobuf bytes of a `.pb.gz` file.
  public static func render(_ profile: ResolvedProfile, options: Options) throws -> [UInt8] {
    try Gzip.compress(encoded(profile, options: options))
  }

  /// Field numbers of pprof's `Profile` message.
  private enum Field {
    static let sampleType: UInt64 = 1
    static let sample: UInt64 = 2
    static let mapping: UInt64 = 3
    static let location: UInt64 = 4
    static let function: UInt64 = 5
    static let stringTable: UInt64 = 6
    static let timeNanos: UInt64 = 9
    static let durationNanos: UInt64 = 10
    static let periodType: UInt64 = 11
    static let period: UInt64 = 12
    static let comment: UInt64 = 13
    static let defaultSampleType: UInt64 = 14
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

  /// The string indexes of a `ValueType`'s type and unit.
  mutating func valueType(_ v: PprofExporter.ValueType) -> (type: Int64, unit: Int64) { (index(v.type), index(v.unit)) }
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
