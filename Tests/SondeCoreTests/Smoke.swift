import Testing
@testable import PerfEvents
@Test func core_paranoidLevelIsReadable() { #expect(PerfEventOpenError.paranoidLevel() != nil) }
