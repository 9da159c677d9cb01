import PerfEvents
import Testing

@testable import SondeCore

@Suite("Stat statistics and rendering")
struct StatRenderingTests {
  func count(_ name: String, _ reading: CounterReading?, unit: String = "") throws -> StatCount {
    var spec = try EventParser().parse(name)[0].events[0]
    spec.unit = unit
    return StatCount(event: spec, status: reading == nil ? .notSupported("x") : .counting, reading: reading)
  }

  @Test func relativeErrorOfTheMeanMatchesPerf() {
    var s = RunningStatistics()
    for v in [10.0, 12, 14] { s.add(v) }
    #expect(s.mean == 12)
    #expect(s.variance == 4)
    // sqrt(4/3)/12 × 100
    #expect(abs(s.relativeErrorPercent - 9.6225) < 0.001)
  }

  @Test func csvHasPerfsFieldOrder() throws {
    let result = StatResult(
      counts: [
        try count("task-clock", CounterReading(value: 2_000_000, enabled: 2_000_000, running: 2_000_000), unit: "msec"),
        try count("cycles", nil),
        try count("page-faults", CounterReading(value: 50, enabled: 2_000_000, running: 1_000_000)),
        try count("context-switches", CounterReading(value: 0, enabled: 100, running: 0)),
      ], elapsedSeconds: 0.004, runs: 1, interrupted: false)
    let text = StatRenderer(format: .csv(separator: ";"), targetDescription: "x").render(result)
    let lines = text.split(separator: "\n").map(String.init)
    #expect(lines[0] == "2.00;msec;task-clock;2000000;100.00;0.500;CPUs utilized")
    #expect(lines[1] == "<not supported>;;cycles;0;100.00;;")
    // Multiplexed: 50 × 2 = 100 per 2 ms of task-clock = 50 K/sec, running 50 %.
    #expect(lines[2] == "100;;page-faults;1000000;50.00;50.000;K/sec")
    #expect(lines[3] == "<not counted>;;context-switches;0;0.00;;")
  }

  @Test func humanOutputShowsMultiplexingPercentageAndNotCounted() throws {
    let result = StatResult(
      counts: [
        try count("task-clock", CounterReading(value: 1_000_000, enabled: 1_000_000, running: 1_000_000), unit: "msec"),
        try count("page-faults", CounterReading(value: 50, enabled: 2_000, running: 1_000)),
        try count("context-switches", CounterReading(value: 0, enabled: 100, running: 0)),
      ], elapsedSeconds: 0.002, userSeconds: 0.001, systemSeconds: 0, runs: 1, interrupted: false)
    let text = StatRenderer(format: .human, targetDescription: "'demo'").render(result)
    #expect(text.contains("Performance counter stats for 'demo':"))
    #expect(text.contains("(50.00%)"))
    #expect(text.contains("<not counted>"))
    #expect(text.contains("seconds time elapsed"))
  }
}
