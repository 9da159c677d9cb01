import CSonde
import Testing

@testable import PerfEvents
import SondeSystem

@Suite("Multiplexing math and read_format parsing")
struct CounterReadingTests {
  @Test func scalingExtrapolatesByEnabledOverRunning() {
    let r = CounterReading(value: 1000, enabled: 400, running: 100)
    #expect(r.scaledValue == 4000)
    #expect(r.percentRunning == 25)
    #expect(CounterReading(value: 7, enabled: 100, running: 100).scaledValue == 7)
  }

  @Test func runningZeroIsNotCountedRatherThanZero() {
    let r = CounterReading(value: 0, enabled: 500, running: 0)
    #expect(r.scaledValue == nil)
    #expect(r.percentRunning == 0)
  }

  @Test func intervalDeltasSubtractValueEnabledAndRunningBeforeScaling() {
    let first = CounterReading(value: 100, enabled: 1000, running: 500)
    let second = CounterReading(value: 400, enabled: 2000, running: 600)
    let delta = second.delta(since: first)
    #expect(delta == CounterReading(value: 300, enabled: 1000, running: 100))
    // Scaling the delta (300 × 1000/100 = 3000) differs from the delta of scaled values (800 − 200 = 600).
    #expect(delta.scaledValue == 3000)
    #expect(second.scaledValue! - first.scaledValue! != 3000)
  }

  @Test func aggregationSumsFieldsThenScalesOnce() {
    let total =
      CounterReading(value: 10, enabled: 100, running: 50) + CounterReading(value: 30, enabled: 100, running: 100)
    #expect(total == CounterReading(value: 40, enabled: 200, running: 150))
    #expect(total.scaledValue! > 53.3 && total.scaledValue! < 53.4)
  }

  @Test func deltaNeverWrapsBelowZero() {
    let delta = CounterReading(value: 5, enabled: 5, running: 5).delta(
      since: CounterReading(value: 9, enabled: 9, running: 9))
    #expect(delta == .zero)
  }

  @Test func groupReadFormatParsesSharedTimesAndEntries() throws {
    let words: [UInt64] = [2, 1000, 800, 11, 101, 22, 102]
    let format: ReadFormat = [.group, .totalTimeEnabled, .totalTimeRunning, .id]
    #expect(format.size(members: 2) == words.count * 8)
    let (values, consumed) = try words.withUnsafeBytes { try format.parse($0) }
    #expect(consumed == 56)
    #expect(values.timeEnabled == 1000 && values.timeRunning == 800)
    #expect(values.entries.map(\.value) == [11, 22] && values.entries.map(\.id) == [101, 102])
    #expect(values.reading(1) == CounterReading(value: 22, enabled: 1000, running: 800))
  }

  @Test func singleReadFormatWithLostParses() throws {
    let words: [UInt64] = [5, 10, 9, 77, 3]
    let format: ReadFormat = [.totalTimeEnabled, .totalTimeRunning, .id, .lost]
    let (values, _) = try words.withUnsafeBytes { try format.parse($0) }
    #expect(values.entries == [ReadFormat.Entry(value: 5, id: 77, lost: 3)])
    #expect(values.reading(0) == CounterReading(value: 5, enabled: 10, running: 9))
  }

  @Test func truncatedOrImplausibleReadsAreErrors() {
    let format: ReadFormat = [.group, .totalTimeEnabled]
    #expect(throws: SondeError.self) { try [UInt64(3), 1, 1].withUnsafeBytes { try format.parse($0) } }
    #expect(throws: SondeError.self) { try [UInt64(1 << 40), 1].withUnsafeBytes { try format.parse($0) } }
  }
}
