import BPF
import PerfEvents
import Profiles
import SondeBPFTypes
import SondeCore
import SondeSystem
import Symbols

/// Reads what trace.bpf.c gathered into results: counts and histograms from its maps (read, never
/// deleted, so a hit that lands while user space reads is never lost; an interval is the difference from
/// the previous read), stacks symbolized, events decoded by their tracepoint's format.
final class TraceReader {
  private let program: TraceProgram
  private let options: TraceOptions
  private let resolver: FileSymbolResolver
  private let mappings: ProcessMappings
  private var lastCounts: [CountKey: UInt64] = [:]
  private var lastBuckets: [HistogramKey: UInt64] = [:]
  private var lastSums: [HistogramKey: (count: UInt64, nanoseconds: UInt64)] = [:]
  private var lastAccounting = TraceAccounting()
  private var stackNames: [Int32: [String]] = [:]

  /// A count key of the kernel's, made hashable.
  struct CountKey: Hashable {
    var probe: UInt32
    var pid: UInt32
    var value: UInt64
    var stack: Int32
    var comm: String
  }

  /// A histogram group and bucket.
  struct HistogramKey: Hashable {
    var probe: UInt32
    var pid: UInt32
    var comm: String
    var slot: UInt32
  }

  init(program: TraceProgram, options: TraceOptions) {
    self.program = program
    self.options = options
    let symbolizer = Symbolizer()
    resolver = FileSymbolResolver(mappings: [], symbolizer: symbolizer)
    mappings = ProcessMappings(resolver: resolver)
  }

  /// The counts, histograms and accounting so far (`sinceLast`: only what came since the previous
  /// `sinceLast` read, which becomes the new baseline).
  func read(sinceLast: Bool) throws(SondeError) -> TraceSnapshot {
    var snapshot = TraceSnapshot()
    var counts: [CountKey: UInt64] = [:]
    if options.count != nil {
      for (key, value) in try program.counts.readEntries() {
        counts[
          CountKey(
            probe: key.probe, pid: key.pid, value: key.value, stack: key.stack,
            comm: ProcessTracking.commString(key.comm)),
          default: 0] +|= value
      }
    }
    var buckets: [HistogramKey: UInt64] = [:]
    var sums: [HistogramKey: (count: UInt64, nanoseconds: UInt64)] = [:]
    if options.latency != nil {
      for (key, value) in try program.histogram.readEntries() {
        buckets[Self.histogramKey(key), default: 0] +|= value
      }
      for (key, value) in try program.sums.readEntries() {
        sums[Self.histogramKey(key)] = (value.count, value.nanoseconds)
      }
    }
    let accounting = try accounting()
    snapshot.accounting = accounting
    if sinceLast {
      let previousCounts = lastCounts
      let previousBuckets = lastBuckets
      let previousSums = lastSums
      lastCounts = counts
      lastBuckets = buckets
      lastSums = sums
      for (key, value) in counts { counts[key] = value &- (previousCounts[key] ?? 0) }
      for (key, value) in buckets { buckets[key] = value &- (previousBuckets[key] ?? 0) }
      for (key, value) in sums {
        let before = previousSums[key] ?? (0, 0)
        sums[key] = (value.count &- before.count, value.nanoseconds &- before.nanoseconds)
      }
      snapshot.accounting = accounting.minus(lastAccounting)
      lastAccounting = accounting
    }
    snapshot.counts = try counts.filter { $0.value > 0 }.map { (key, count) throws(SondeError) in
      try self.count(key, count)
    }.sorted { ($0.count, $1.probe, $1.comm, $1.pid) > ($1.count, $0.probe, $0.comm, $0.pid) }
    snapshot.histograms = histograms(buckets, sums)
    return snapshot
  }

  static func histogramKey(_ key: sonde_trace_hist_key) -> HistogramKey {
    HistogramKey(probe: key.probe, pid: key.pid, comm: ProcessTracking.commString(key.comm), slot: key.slot)
  }

  private func label(_ probe: UInt32) -> String {
    Int(probe) < program.probes.count ? program.probes[Int(probe)].label : "probe \(probe)"
  }

  private func count(_ key: CountKey, _ count: UInt64) throws(SondeError) -> TraceCount {
    var result = TraceCount(
      probe: label(key.probe), pid: Int32(bitPattern: key.pid), comm: key.comm, value: nil, stack: nil,
      count: count)
    switch options.count {
    case .argument, .returnValue: result.value = Int64(bitPattern: key.value)
    case .userStack, .kernelStack: result.stack = try stack(key.stack, pid: result.pid)
    default: break
    }
    return result
  }

  /// A stack's frames by name (looked up once per id).
  private func stack(_ id: Int32, pid: Int32) throws(SondeError) -> [String] {
    if id < 0 { return ["[lost stack: \(errnoName(-id))]"] }
    if let known = stackNames[id] { return known }
    let isKernel = options.count == .kernelStack
    if !isKernel && !mappings.captured.contains(pid) { _ = mappings.capture(pid: pid) }
    var names: [String] = []
    if let raw = try program.stacks.lookup(UInt32(bitPattern: id)) {
      for (depth, ip) in ProcessTracking.frames(ips: raw.ips).enumerated() {
        let frame = resolver.resolve(pid: pid, address: ip, isKernel: isKernel, isReturnAddress: depth > 0)
        names.append(frame.name == "[unknown]" ? "[unknown] 0x\(String(ip, radix: 16))" : frame.name)
      }
    } else {
      names = ["[stack \(id) missing]"]
    }
    stackNames[id] = names
    return names
  }

  private func histograms(
    _ buckets: [HistogramKey: UInt64], _ sums: [HistogramKey: (count: UInt64, nanoseconds: UInt64)]
  ) -> [LatencyHistogram] {
    var groups: [HistogramKey: LatencyHistogram] = [:]
    func group(_ key: HistogramKey) -> HistogramKey {
      HistogramKey(probe: key.probe, pid: key.pid, comm: key.comm, slot: 0)
    }
    func name(_ key: HistogramKey) -> String {
      switch options.latency {
      case .probe: label(key.probe)
      case .comm: key.comm
      case .pid: "\(key.pid) \(key.comm)"
      default: ""
      }
    }
    for (key, count) in buckets where count > 0 {
      let g = group(key)
      groups[g, default: empty(name(g))].buckets[Int(key.slot), default: 0] +|= count
    }
    for (key, sum) in sums where sum.count > 0 {
      let g = group(key)
      groups[g, default: empty(name(g))].count +|= sum.count
      groups[g, default: empty(name(g))].totalNanoseconds +|= sum.nanoseconds
    }
    return groups.values.sorted { $0.group < $1.group }
  }

  private func empty(_ group: String) -> LatencyHistogram {
    LatencyHistogram(
      group: group, unit: options.histogram.unit, linear: options.histogram.linear, buckets: [:], count: 0,
      totalNanoseconds: 0)
  }

  private func accounting() throws(SondeError) -> TraceAccounting {
    let c = try program.counters()
    func slot(_ s: sonde_trace_stat) -> UInt64 { c[Int(s.rawValue)] }
    var a = TraceAccounting()
    a.hits = slot(SONDE_TRACE_STAT_HITS)
    a.mapFull = slot(SONDE_TRACE_STAT_MAP_FULL)
    a.eventsDropped = slot(SONDE_TRACE_STAT_RINGBUF_FULL)
    a.stacksLost = slot(SONDE_TRACE_STAT_STACK_LOST)
    a.exitsWithoutEntry = slot(SONDE_TRACE_STAT_NO_ENTRY)
    a.entriesDropped = slot(SONDE_TRACE_STAT_STARTS_FULL)
    return a
  }

  /// Reads the mappings of processes the program saw for the first time (--by stack).
  func captureNewProcesses() throws(SondeError) {
    for pid in try program.newProcesses.drain() { _ = mappings.capture(pid: Int32(bitPattern: pid)) }
  }

  /// The events the ringbuf holds now, decoded.
  func events() throws(SondeError) -> [TraceEvent] {
    guard let ring = program.events else { return [] }
    return try ring.drain().map(decode)
  }

  func decode(_ e: sonde_trace_event) -> TraceEvent {
    let probe = Int(e.probe) < program.probes.count ? program.probes[Int(e.probe)] : nil
    var fields: [(name: String, value: TracepointFormat.Value)] = []
    withUnsafeBytes(of: e.record) { raw in
      let record = UnsafeRawBufferPointer(rebasing: raw.prefix(min(Int(e.record_bytes), raw.count)))
      if let format = probe?.format {
        let stringBytes = Int(e.string_bytes)
        let string: String? =
          stringBytes > 0
          ? withUnsafeBytes(of: e.string) { s in
            String(decoding: s.prefix(min(stringBytes, s.count)).prefix { $0 != 0 }, as: UTF8.self)
          } : nil
        var stringUsed = false
        for field in format.arguments {
          var value = format.value(of: field, in: record)
          if let string, !stringUsed, field.isPointer, field.type.contains("char"), field.size == 8 {
            value = .string(string)
            stringUsed = true
          }
          fields.append((field.name, value))
        }
      } else {
        let words = record.count / 8
        for i in 0..<min(6, words) {
          fields.append(("arg\(i)", .unsigned(record.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
        }
        if probe.map(\.isReturnProbe) == true, words >= 7 {
          fields.append(("retval", .signed(record.loadUnaligned(fromByteOffset: 48, as: Int64.self))))
        }
      }
    }
    return TraceEvent(
      timestamp: e.timestamp, cpu: e.cpu, pid: Int32(bitPattern: e.pid), tid: Int32(bitPattern: e.tid),
      comm: ProcessTracking.commString(e.comm), probe: probe?.label ?? "probe \(e.probe)", fields: fields)
  }
}

extension TraceAccounting {
  /// The difference from an earlier reading (counters only grow).
  func minus(_ earlier: TraceAccounting) -> TraceAccounting {
    var d = TraceAccounting()
    d.hits = hits &- earlier.hits
    d.mapFull = mapFull &- earlier.mapFull
    d.eventsDropped = eventsDropped &- earlier.eventsDropped
    d.stacksLost = stacksLost &- earlier.stacksLost
    d.exitsWithoutEntry = exitsWithoutEntry &- earlier.exitsWithoutEntry
    d.entriesDropped = entriesDropped &- earlier.entriesDropped
    return d
  }
}

extension ResolvedProbe {
  /// Whether the probe fires at a function's return (its events carry the return value).
  var isReturnProbe: Bool {
    switch place {
    case .uprobe(_, _, let r), .kprobe(_, _, let r): r
    case .fentry(_, let exit): exit
    default: false
    }
  }
}
