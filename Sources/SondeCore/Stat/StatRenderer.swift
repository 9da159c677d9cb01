import PerfEvents
import SondeText

#if canImport(Glibc)
  import Glibc
#endif

/// Renders stat results in perf stat's three layouts: the human table, `-x SEP` CSV and `-j` JSON lines.
public struct StatRenderer: Sendable {
  public enum Format: Sendable, Hashable {
    case human
    case csv(separator: String)
    case json
  }

  public var format: Format
  /// What was counted, for the human header (`'cmd args'`, `'system wide'`, `process id '42'`).
  public var targetDescription: String

  public init(format: Format, targetDescription: String) {
    self.format = format
    self.targetDescription = targetDescription
  }

  /// The whole final report.
  public func render(_ result: StatResult) -> String {
    switch format {
    case .human: return renderHuman(result)
    case .csv, .json:
      let clock = clockMilliseconds(result.counts)
      return result.counts.map { line($0, clockMs: clock, elapsed: result.elapsedSeconds, interval: nil) + "\n" }
        .joined()
    }
  }

  /// The header perf prints before interval lines in human mode.
  public var intervalHeader: String? {
    format == .human ? "#           time             counts unit events\n" : nil
  }

  /// One `-I` report.
  public func render(_ interval: StatInterval, intervalSeconds: Double) -> String {
    let clock = clockMilliseconds(interval.counts)
    return interval.counts.map {
      line($0, clockMs: clock, elapsed: intervalSeconds, interval: interval.timestamp) + "\n"
    }.joined()
  }

  // MARK: - Lines

  private func line(_ count: StatCount, clockMs: Double?, elapsed: Double, interval: Double?) -> String {
    let value = valueText(count)
    let metric = metric(for: count, clockMs: clockMs, elapsed: elapsed)
    let running = count.reading?.running ?? 0
    let percent = count.reading.map { $0.running > 0 ? $0.percentRunning : 0 } ?? 100
    switch format {
    case .csv(let sep):
      var fields: [String] = []
      if let interval { fields.append(String(cFormat: "%16.9f", interval)) }
      fields += [value, count.event.unit, count.event.name]
      if let variance = count.variancePercent { fields.append(String(cFormat: "%.2f%%", variance)) }
      fields += [
        String(running), String(cFormat: "%.2f", percent),
        metric.map { String(cFormat: "%.3f", $0.value) } ?? "", metric?.unit ?? "",
      ]
      return fields.joined(separator: sep)
    case .json:
      var object = JSONObject()
      if let interval { object.add("interval", json: String(cFormat: "%.9f", interval)) }
      let jsonValue = count.reading?.scaledValue.map { scaledForUnit($0, count.event) }
      object.add("counter-value", jsonValue.map { String(cFormat: "%f", $0) } ?? value)
      object.add("unit", count.event.unit)
      object.add("event", count.event.name)
      if let variance = count.variancePercent { object.add("variance", json: String(cFormat: "%.2f", variance)) }
      object.add("event-runtime", running)
      object.add("pcnt-running", json: String(cFormat: "%.2f", percent))
      object.add("metric-value", json: String(cFormat: "%f", metric?.value ?? 0))
      object.add("metric-unit", metric?.unit ?? "")
      return object.text(spaced: true)
    case .human:
      var text = ""
      if let interval { text += String(cFormat: "%16.9f ", interval) }
      text +=
        value.padded(to: 18, alignRight: true) + " " + count.event.unit.padded(to: 4) + " "
        + count.event.name.padded(to: 33)
      if let metric {
        text += "# " + String(cFormat: "%8.3f", metric.value) + " " + metric.unit.padded(to: 20)
      } else {
        text += "".padded(to: 31)
      }
      if let variance = count.variancePercent {
        text += String(cFormat: "  ( +-%6.2f%% )", variance)
      }
      if let reading = count.reading, reading.running > 0, reading.running < reading.enabled {
        text += String(cFormat: "  (%.2f%%)", reading.percentRunning)
      }
      return text.trailingSpacesTrimmed()
    }
  }

  private func renderHuman(_ result: StatResult) -> String {
    let clock = clockMilliseconds(result.counts)
    let runs = result.runs > 1 ? " (\(result.runs) runs)" : ""
    var text = "\n Performance counter stats for \(targetDescription)\(runs):\n\n"
    for count in result.counts {
      text += line(count, clockMs: clock, elapsed: result.elapsedSeconds, interval: nil) + "\n"
    }
    text += "\n"
    if let variance = result.elapsedVariancePercent, result.runs > 1 {
      let absolute = result.elapsedSeconds * variance / 100
      text += String(
        cFormat: "%17.8f +- %.8f seconds time elapsed  ( +- %5.2f%% )\n", result.elapsedSeconds, absolute, variance)
    } else {
      text += String(cFormat: "%18.9f seconds time elapsed\n", result.elapsedSeconds)
    }
    if let user = result.userSeconds, let system = result.systemSeconds, result.runs == 1 {
      text += String(cFormat: "\n%18.9f seconds user\n%18.9f seconds sys\n", user, system)
    }
    if result.interrupted { text += "\n(interrupted: counts cover the time until Ctrl-C)\n" }
    text += "\n"
    return text
  }

  // MARK: - Values and metrics

  private func valueText(_ count: StatCount) -> String {
    guard let reading = count.reading else { return "<not supported>" }
    guard let scaled = reading.scaledValue else { return "<not counted>" }
    if count.event.unit == "msec" { return String(cFormat: "%.2f", scaled / 1e6) }
    return String(cFormat: "%.0f", scaled.rounded())
  }

  private func scaledForUnit(_ value: Double, _ event: EventSpec) -> Double {
    event.unit == "msec" ? value / 1e6 : value
  }

  /// Task-clock or cpu-clock milliseconds in this result, the denominator of rate metrics.
  private func clockMilliseconds(_ counts: [StatCount]) -> Double? {
    counts.first { $0.event.isClock && $0.event.modifiers == EventModifiers() }?.reading?.scaledValue.map { $0 / 1e6 }
  }

  /// perf's shadow metrics: CPUs utilized for clocks, events per second of clock otherwise.
  private func metric(for count: StatCount, clockMs: Double?, elapsed: Double) -> (value: Double, unit: String)? {
    guard let value = count.reading?.scaledValue else { return nil }
    if count.event.isClock {
      guard elapsed > 0 else { return nil }
      return (value / 1e9 / elapsed, "CPUs utilized")
    }
    guard let clockMs, clockMs > 0 else { return nil }
    let rate = value / (clockMs / 1000)
    if rate >= 1e9 { return (rate / 1e9, "G/sec") }
    if rate >= 1e6 { return (rate / 1e6, "M/sec") }
    if rate >= 1e3 { return (rate / 1e3, "K/sec") }
    return (rate, "/sec")
  }
}

extension String {
  func trailingSpacesTrimmed() -> String {
    var s = self
    while s.last == " " { s.removeLast() }
    return s
  }
}
