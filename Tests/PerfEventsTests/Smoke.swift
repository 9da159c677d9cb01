import Testing
@testable import PerfEvents
@Test func paranoidLevelIsReadable() { #expect(PerfEventOpenError.paranoidLevel() != nil) }
