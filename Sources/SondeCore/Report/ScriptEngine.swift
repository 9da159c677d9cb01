import PerfEvents
import Profiles
import SondeSystem
import SondeText

/// The engine behind `sonde script`: one perf-script-compatible text block per sample (the event line,
/// then one indented line per frame, then a blank line), which stackcollapse-perf.pl and other flame
/// graph tooling consume.
public enum ScriptEngine {
  /// Calls `emit` with each sample's text, in file order. Returns the number of samples.
  @discardableResult
  public static func run(path: String, emit: (String) -> Void) throws(SondeError) -> Int {
    let file = try PerfDataFile(path: path)
    // Mappings first (the resolver needs them all), then the samples in order with comm over time.
    let (profile, _) = try ProfileLoader().load(file)
    let resolver = FileSymbolResolver(profile: profile, sameKernel: ReportSession.recordedOnThisKernel(file))
    let names = RecordWalker.eventNames(file)
    var nameByID: [UInt64: String] = [:]
    for (e, n) in zip(file.events, names) { for id in e.ids { nameByID[id] = n } }
    var count = 0
    let first = file.events.first?.attributes
    let chains = first.map { SampleType(rawValue: $0.sample_type).contains(.callchain) } ?? false
    let fixedPeriod = first.map { $0.freq == 0 ? $0.sample_period : 0 } ?? 0
    // With several events perf right-aligns event names to the longest one.
    let eventWidth = names.count > 1 ? names.map(\.count).max() ?? 0 : 0
    var walker = RecordWalker(file: file)
    _ = try walker.walk { item in
      guard case .sample(let s, let stack, let thread) = item else { return }
      count += 1
      let event = nameByID[s.eventID] ?? names.first ?? "event"
      let period = s.period != 0 ? s.period : fixedPeriod
      var frames: [ResolvedFrame] = []
      for (i, a) in stack.kernel.enumerated() {
        frames.append(resolver.resolve(pid: thread.pid, address: a, isKernel: true, isReturnAddress: i > 0))
      }
      for (i, a) in stack.user.enumerated() {
        frames.append(resolver.resolve(pid: thread.pid, address: a, isKernel: false, isReturnAddress: i > 0))
      }
      let seconds = s.time / 1_000_000_000
      var micros = String(s.time % 1_000_000_000 / 1000)
      while micros.count < 6 { micros = "0" + micros }
      // perf script pads the command to 16 columns unless it prints call chains, and prints the raw
      // sample address on the event line but module-relative addresses in call chains.
      let commText = chains ? thread.comm : thread.comm.padded(to: 16, alignRight: true)
      var text =
        "\(commText) \(String(thread.tid).padded(to: 5, alignRight: true)) \(String(seconds).padded(to: 5, alignRight: true)).\(micros): \(String(period).padded(to: 10, alignRight: true)) \(event.padded(to: eventWidth, alignRight: true)): "
      if !chains, let f = frames.first {
        text += " \(hex(s.ip).padded(to: 16, alignRight: true)) \(symbolText(f)) (\(f.path))\n"
      } else {
        text += "\n"
        for f in frames {
          text += "\t\(hex(f.moduleAddress).padded(to: 16, alignRight: true)) \(symbolText(f)) (\(f.path))\n"
        }
        text += "\n"
      }
      emit(text)
    }
    return count
  }

  static func symbolText(_ f: ResolvedFrame) -> String {
    f.name == "[unknown]" ? f.name : "\(f.name)+0x\(String(f.symbolOffset, radix: 16))"
  }

  static func hex(_ v: UInt64) -> String { String(v, radix: 16) }

}
