import PerfEvents
import Profiles
import SondeSystem
import SondeText
import Symbols

/// The engine behind `sonde script`: one perf-script-compatible text block per sample (the event line,
/// then one indented line per frame, then a blank line), which stackcollapse-perf.pl and other flame
/// graph tooling consume.
///
/// Two passes: the first gathers the mappings (the resolver needs them all), the second streams the samples
/// in time order. Each distinct raw callchain becomes a stack once, each location is symbolized and its
/// frame line rendered once, so a sample costs its event line and copies of cached frame lines.
public enum ScriptEngine {
  /// Calls `emit` with the text of many samples at a time (about 64 KiB), in time order. Returns the number
  /// of samples.
  @discardableResult
  public static func run(path: String, emit: ([UInt8]) -> Void) throws(SondeError) -> Int {
    let file = try PerfDataFile(path: path)
    let (symbolizer, sameKernel, prefetch) = ReportSession.symbolizer(for: file)
    defer { prefetch?.stop() }
    var mappings: [Profile.Mapping] = []
    var first = RecordWalker(file: file)
    _ = try first.walk { item in
      guard case .mapping(let m) = item else { return }
      mappings.append(Profile.Mapping(m))
    }
    let resolver = FileSymbolResolver(mappings: mappings, sameKernel: sameKernel, symbolizer: symbolizer)
    let names = RecordWalker.eventNames(file)
    var nameByID: [UInt64: String] = [:]
    for (e, n) in zip(file.events, names) { for id in e.ids { nameByID[id] = n } }
    let attributes = file.events.first?.attributes
    let sampleType = SampleType(rawValue: attributes?.sample_type ?? 0)
    let layout = Layout(
      chains: sampleType.contains(.callchain), cpu: sampleType.contains(.cpu),
      fixedPeriod: attributes.map { $0.freq == 0 ? $0.sample_period : 0 } ?? 0,
      // With several events perf right-aligns event names to the longest one.
      eventWidth: names.count > 1 ? names.map(\.utf8.count).max() ?? 0 : 0)
    var builder = ProfileBuilder()
    var stacks = CallchainStacks(maxFrames: ProfileLoader.maxStackFrames)
    let unwinding = DwarfStackUnwinding.needed(by: file) ? DwarfStackUnwinding() : nil
    var frameLines: [[UInt8]?] = []
    var out = ByteText(capacity: 1 << 17)
    var count = 0
    var walker = RecordWalker(file: file)
    // A corrupt record ends the walk: what was read before it is still printed.
    defer { if out.count > 0 { emit(out.bytes) } }
    _ = try walker.walk { item in
      if case .mapping(let m) = item { unwinding?.add(Profile.Mapping(m)) }
      guard case .sample(let s, let misc, let thread) = item else { return }
      count += 1
      let userFrames = unwinding?.userFrames(s, pid: thread.pid)
      let stack = stacks.stack(s, misc: misc, pid: thread.pid, userFrames: userFrames, into: &builder)
      let locations = builder.profile.stack(stack)
      let event = nameByID[s.head.eventID] ?? names.first ?? "event"
      eventLine(&out, s.head, thread: thread, event: event, layout)
      if !layout.chains, let leaf = locations.first {
        let frame = resolve(Int(leaf), builder.profile, resolver)
        out.append(0x20)
        out.appendHex(s.head.ip, width: 16)
        out.append(0x20)
        symbol(&out, frame)
        out.append(" (\(frame.path))\n")
      } else {
        out.append(0x0A)
        for location in locations {
          let l = Int(location)
          while frameLines.count <= l { frameLines.append(nil) }
          if frameLines[l] == nil { frameLines[l] = frameLine(resolve(l, builder.profile, resolver)) }
          out.append(frameLines[l]!)
        }
        out.append(0x0A)
      }
      if out.count >= 1 << 16 {
        emit(out.bytes)
        out.removeAll()
      }
    }
    return count
  }

  /// What every event line depends on, from the file's first event.
  struct Layout {
    var chains: Bool
    var cpu: Bool
    var fixedPeriod: UInt64
    var eventWidth: Int
  }

  /// `comm tid [cpu] seconds.micros: period event: ` as perf script prints it: the command padded to 16
  /// columns unless call chains follow, `[CPU]` when samples carry the CPU (system-wide and -C recordings).
  static func eventLine(
    _ out: inout ByteText, _ s: SampleHead, thread: RecordWalker.SampledThread, event: String, _ layout: Layout
  ) {
    if layout.chains { out.append(thread.comm) } else { out.appendRight(thread.comm, width: 16) }
    out.append(0x20)
    out.appendDecimal(UInt64(UInt32(bitPattern: thread.tid)), width: 5)
    if layout.cpu {
      out.append(" [")
      out.appendDecimal(UInt64(s.cpu), width: 3, fill: 0x30)
      out.append(0x5D)
    }
    out.append(0x20)
    out.appendDecimal(s.time / 1_000_000_000, width: 5)
    out.append(0x2E)
    out.appendDecimal(s.time % 1_000_000_000 / 1000, width: 6, fill: 0x30)
    out.append(": ")
    out.appendDecimal(s.period != 0 ? s.period : layout.fixedPeriod, width: 10)
    out.append(0x20)
    out.appendRight(event, width: layout.eventWidth)
    out.append(": ")
  }

  /// A call-chain line: the module-relative address, the symbol and offset, the module path.
  static func frameLine(_ f: ResolvedFrame) -> [UInt8] {
    var line = ByteText(capacity: 96)
    line.append(0x09)
    line.appendHex(f.moduleAddress, width: 16)
    line.append(0x20)
    symbol(&line, f)
    line.append(" (\(f.path))\n")
    return line.bytes
  }

  static func symbol(_ out: inout ByteText, _ f: ResolvedFrame) {
    out.append(f.name)
    guard f.name != "[unknown]" else { return }
    out.append("+0x")
    out.appendHex(f.symbolOffset)
  }

  /// Symbolizes a location at its own address, return addresses included, as perf script does: a call that
  /// ends its function (to a noreturn callee) then names the next function at +0x0, exactly as perf prints it.
  static func resolve(_ location: Int, _ profile: Profile, _ resolver: FileSymbolResolver) -> ResolvedFrame {
    let l = profile.locations[location]
    return resolver.resolve(pid: l.pid, address: l.address, isKernel: l.isKernel, isReturnAddress: false)
  }
}
