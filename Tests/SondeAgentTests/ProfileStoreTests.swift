import Foundation
import SondeTestSupport
import Testing

@testable import SondeAgent

/// The store on its own: windows written with their interned rows read back the same, compaction keeps
/// every sample, retention removes by age and by size and says which stacks and series it freed.
@Suite struct ProfileStoreTests {
  let second: Int64 = 1_000_000_000

  /// A store keeps one kind of profile: its counts are samples or nanoseconds off-CPU, never both. Opening it
  /// for the other kind is an error that says which it holds; the same kind opens again.
  @Test func aStoreRefusesTheOtherKindOfProfile() throws {
    let dir = try TestSupport.temporaryDirectory("store-kind")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    _ = try ProfileStore(directory: dir, kind: .offCPU)
    #expect(try ProfileStore(directory: dir, kind: .offCPU).kind == .offCPU)
    #expect {
      _ = try ProfileStore(directory: dir, kind: .cpu)
    } throws: { "\($0)".contains("holds off-cpu profiles, not cpu") }
  }

  /// A store with `count` windows of 10 s from `start`, each holding two processes' samples.
  func filledStore(_ dir: String, count: Int, start: Int64, processes: Int = 0) throws -> (ProfileStore, AgentInterner)
  {
    let store = try ProfileStore(directory: dir)
    let interner = AgentInterner(try store.interned())
    let hot = interner.function(AgentFunction(name: "hot", module: "demo", isKernel: false))
    let main = interner.function(AgentFunction(name: "main", module: "demo", isKernel: false))
    let idle = interner.function(AgentFunction(name: "do_idle", module: "[kernel.kallsyms]", isKernel: true))
    let demo = interner.series(ProcessLabels(pid: 7, comm: "demo", exe: "/bin/demo"))
    let swapper = interner.series(ProcessLabels(pid: 0, comm: "swapper/0"))
    for i in 0..<count {
      var w = AgentSlice(start: start + Int64(i) * 10 * second, end: start + Int64(i + 1) * 10 * second)
      w.counts[AgentSampleKey(series: demo, stack: interner.stack([main, hot]))] = 30
      w.counts[AgentSampleKey(series: swapper, stack: interner.stack([idle]))] = UInt64(10 + i)
      for p in 0..<processes {
        let series = interner.series(ProcessLabels(pid: Int32(1000 + p), comm: "worker"))
        w.counts[AgentSampleKey(series: series, stack: interner.stack([main, hot, Int64(p)]))] = 1
      }
      try store.write(w, resolutionSeconds: 10, pending: interner.takePending())
    }
    return (store, interner)
  }

  @Test func windowsReadBackWithLabelsAndFunctions() async throws {
    let dir = try TestSupport.temporaryDirectory("store-read")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let start = 1_800_000_000 * second
    let (store, _) = try filledStore(dir, count: 3, start: start)
    let windows = try await store.windows(from: 0, to: Int64.max)
    #expect(windows.map(\.samples) == [40, 41, 42])
    let all = try await store.profile(from: start, to: start + 30 * second, filter: ProfileFilter(), frequency: 19)
    #expect(all.sampleCount == 123)
    let demo = try await store.profile(
      from: start, to: start + 30 * second, filter: ProfileFilter(parsing: "comm:demo"), frequency: 19)
    #expect(demo.sampleCount == 90)
    #expect(demo.entries.allSatisfy { $0.frames.map(\.name) == ["main", "hot"] && $0.labels.exe == "/bin/demo" })
    // A reopened store hands the interner the same ids.
    let reopened = AgentInterner(try ProfileStore(directory: dir).interned())
    #expect(reopened.function(AgentFunction(name: "hot", module: "demo", isKernel: false)) == 1 + 0)
    #expect(reopened.takePending().isEmpty)
  }

  @Test func compactionMergesOldWindowsIntoMinutesAndKeepsEverySample() async throws {
    let dir = try TestSupport.temporaryDirectory("store-compact")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // 12 windows of 10 s, aligned to a minute: two minutes.
    let start = 1_800_000_000 * second / (60 * second) * (60 * second)
    let (store, _) = try filledStore(dir, count: 12, start: start)
    let end = start + 3600 * second
    let before = try await store.profile(from: 0, to: end, filter: ProfileFilter(), frequency: 19).sampleCount
    // 80 s after the last window ended: older than a minute (60 s), not yet than six (360 s).
    try store.maintain(now: start + 200 * second, maxAge: 86400, maxBytes: 1 << 30, compactAfter: 60)
    let minutes = try await store.windows(from: 0, to: end)
    #expect(minutes.count == 2, "\(minutes)")
    #expect(minutes.first?.start == start && minutes.last?.end == start + 120 * second)
    #expect(try await store.profile(from: 0, to: end, filter: ProfileFilter(), frequency: 19).sampleCount == before)
    // An hour later both minutes fall in one ten-minute window.
    try store.maintain(now: end, maxAge: 86400, maxBytes: 1 << 30, compactAfter: 60)
    #expect(try await store.windows(from: 0, to: end).count == 1)
    #expect(try await store.profile(from: 0, to: end, filter: ProfileFilter(), frequency: 19).sampleCount == before)
  }

  @Test func retentionByAgeAndBySizeFreesStacksAndSeries() async throws {
    let dir = try TestSupport.temporaryDirectory("store-retain")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let start = 1_800_000_000 * second
    let (store, _) = try filledStore(dir, count: 6, start: start)
    // Everything ended over 100 s before `now`: all windows go, and every stack and series with them.
    try store.maintain(now: start + 1000 * second, maxAge: 100, maxBytes: 1 << 30, compactAfter: 1e9)
    let gone = try store.collectGarbage()
    #expect(try await store.windows(from: 0, to: Int64.max).isEmpty)
    #expect(gone.stacks.count == 2 && gone.series.count == 2)

    let dir2 = try TestSupport.temporaryDirectory("store-cap")
    defer { try? FileManager.default.removeItem(atPath: dir2) }
    let (capped, _) = try filledStore(dir2, count: 400, start: start, processes: 40)
    let used = try capped.pageBytes().used
    try capped.maintain(now: start, maxAge: 1e9, maxBytes: UInt64(used / 2), compactAfter: 1e9)
    let left = try await capped.windows(from: 0, to: Int64.max)
    let usedAfter = try capped.pageBytes().used
    #expect(usedAfter <= used / 2, "pages in use: \(usedAfter) of \(used)")
    // The file follows (vacuumed, WAL truncated).
    #expect(capped.sizeBytes <= UInt64(used / 2) + 65536, "on disk: \(capped.sizeBytes) for a cap of \(used / 2)")
    // About half the windows go for half the size: not nearly all of them.
    #expect(left.count < 400 && left.count >= 120, "\(left.count) windows left")
    // The oldest went first: what is left is the newest, contiguous.
    #expect(left.last?.end == start + 4000 * second)
  }
}
