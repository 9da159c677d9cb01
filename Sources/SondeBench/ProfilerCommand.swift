import PerfEvents
import Profiles
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// How each profiler configuration is started as a user would start it, and how what it sampled and lost
/// is read back from what it wrote: Sonde's profiler from its `--accounting` file, the recorders from their
/// perf.data (SAMPLE and LOST records, counted by Sonde's reader), bpftrace from the counts it prints.
enum ProfilerCommand {
  /// bpftrace's map key limit, set to the size of Sonde's counts map so both keep as many stacks.
  static let bpftraceMapKeys = 16384

  static func launch(
    _ configuration: OverheadConfiguration, frequency: UInt64, sonde: String, files: String
  ) throws(SondeError) -> Subprocess {
    let f = String(frequency)
    let arguments: [String]
    var environment: [String] = []
    switch configuration {
    case .sondeMaps, .sondeRingbuf, .sondePerf, .sondeDwarf:
      let transport =
        switch configuration {
        case .sondeMaps, .sondeDwarf: "maps"
        case .sondePerf: "perf"
        default: "ringbuf"
        }
      arguments =
        [sonde, "profile", "-a", "-F", f, "--transport", transport, "--accounting", files + ".accounting"]
        + (configuration == .sondeDwarf ? ["--unwind", "dwarf"] : [])
    case .sondeRecord:
      arguments = [sonde, "record", "-a", "-g", "-F", f, "-o", files + ".data"]
    case .perfRecord:
      arguments = ["perf", "record", "-a", "-g", "-F", f, "-o", files + ".data"]
    case .perfRecordDwarf:
      arguments = ["perf", "record", "-a", "--call-graph", "dwarf", "-F", f, "-o", files + ".data"]
    case .bpftrace:
      // @samples counts every sample: bpftrace gives up printing the stack map when a key holds a failed stack
      // id (a collision under load: "failed to look up stack id -17"), and then printed no count at all.
      let program = "profile:hz:\(f) { @[ustack, kstack] = count(); @samples = count(); } END { print(@samples); }"
      arguments = ["bpftrace", "-e", program]
      environment = ["BPFTRACE_MAP_KEYS_MAX=\(bpftraceMapKeys)"]
    case .sondeAgent:
      arguments = [
        sonde, "agent", "-F", f, "--window", "1", "--data", files + ".agent", "--listen", "127.0.0.1:0",
      ]
    case .baseline, .floor:
      throw .invalid("bench", "\(configuration.rawValue) runs no profiler")
    }
    return try Subprocess(arguments, stdout: files + ".out", stderr: files + ".err", environment: environment)
  }

  /// Fills in samples, lost, bytes and aggregation from what the ended profiler left.
  static func collect(
    _ configuration: OverheadConfiguration, _ profiler: Subprocess, files: String, into run: inout OverheadRun
  ) throws(SondeError) {
    switch configuration {
    case .sondeMaps, .sondeRingbuf, .sondePerf, .sondeDwarf:
      guard let text = readSmallFile(files + ".accounting") else {
        throw SondeError(.system, operation: "bench: \(configuration.rawValue)", reason: "it wrote no accounting")
      }
      let fields = flatJSONNumbers(text)
      run.samples = fields["samples"].flatMap { UInt64($0) }
      run.lost = fields["lost"].flatMap { UInt64($0) }
      run.bytesFromKernel = fields["bytes_from_kernel"].flatMap { UInt64($0) }
      if configuration == .sondeMaps || configuration == .sondeDwarf {
        run.aggregationRatio = fields["aggregation_ratio"].flatMap { Double($0) }
      }
    case .sondeRecord, .perfRecord, .perfRecordDwarf:
      let counts = try recordCounts(files + ".data")
      run.samples = counts.samples
      run.lost = counts.lost
      run.bytesFromKernel = counts.bytes
    case .bpftrace:
      run.samples = bpftraceSampleCount(profiler.output)
    case .sondeAgent:
      (run.samples, run.lost) = agentCounts(readSmallFile(files + ".err") ?? "")
    case .baseline, .floor:
      break
    }
  }

  /// SAMPLE records, samples lost (LOST and LOST_SAMPLES records) and the size of a perf.data file.
  static func recordCounts(_ path: String) throws(SondeError) -> (samples: UInt64, lost: UInt64, bytes: UInt64) {
    let file = try PerfDataFile(path: path)
    var samples: UInt64 = 0
    var lost: UInt64 = 0
    do {
      try file.forEachRecord { _, record in
        let type = record.loadUnaligned(as: UInt32.self)
        if type == RecordType.sample { samples +|= 1 }
        if type == RecordType.lost && record.count >= 24 {
          lost +|= record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        }
        if type == RecordType.lostSamples && record.count >= 16 {
          lost +|= record.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        }
      }
    } catch {
      throw SondeError(.corruptData, operation: "bench: read \(path)", reason: "\(error)")
    }
    return (samples, lost, UInt64(file.storage.bytes.count))
  }

  /// Samples and lost from the agent's last log line: `… stored N samples in W windows, L lost`.
  static func agentCounts(_ log: String) -> (UInt64?, UInt64?) {
    guard let line = log.split(separator: "\n").last(where: { $0.contains("samples in") && $0.contains("lost") })
    else { return (nil, nil) }
    let words = line.split(separator: " ")
    func number(before word: String) -> UInt64? {
      words.firstIndex { $0.hasPrefix(word) }.flatMap { $0 > 0 ? UInt64(words[$0 - 1]) : nil }
    }
    return (number(before: "samples"), number(before: "lost"))
  }

  /// The samples bpftrace counted: its `@samples: N` line, or else the sum of the counts it prints for its
  /// stack map (each key's entry ends in `]: N`, `, ]: N` when its kernel stack is empty).
  static func bpftraceSampleCount(_ output: String) -> UInt64? {
    for line in output.split(separator: "\n") where line.hasPrefix("@samples: ") {
      if let n = UInt64(line.dropFirst(10).trimmingWhitespace()) { return n }
    }
    var total: UInt64 = 0
    var entries = 0
    for line in output.split(separator: "\n") {
      let parts = line.split(separator: "]: ", omittingEmptySubsequences: false)
      if parts.count >= 2, let n = UInt64(parts[parts.count - 1].trimmingWhitespace()) {
        total +|= n
        entries += 1
      }
    }
    return entries > 0 ? total : nil
  }

  /// The numeric members of a flat JSON object (`"key": number`), as text; nested values are skipped.
  static func flatJSONNumbers(_ text: String) -> [String: String] {
    var result: [String: String] = [:]
    var rest = Substring(text)
    while let open = rest.firstIndex(of: "\"") {
      let afterOpen = rest.index(after: open)
      guard let close = rest[afterOpen...].firstIndex(of: "\"") else { break }
      let key = String(rest[afterOpen..<close])
      rest = rest[rest.index(after: close)...].drop { $0 == " " }
      guard rest.first == ":" else { continue }
      rest = rest.dropFirst().drop { $0 == " " }
      let value = rest.prefix { "0123456789.-+eE".contains($0) }
      if !value.isEmpty { result[key] = String(value) }
      rest = rest[value.endIndex...]
    }
    return result
  }
}
