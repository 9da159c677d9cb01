import Testing
@testable import PerfEvents
@Test func cli_paranoidLevelIsReadable() { #expect(PerfEventOpenError.paranoidLevel() != nil) }
