import Testing

@testable import Profiles

/// The model's memory grows with what is distinct (locations, stacks, threads), not with samples.
struct ProfileScaleTests {
  @Test func aMillionSamplesOverTenThousandStacksCostTheTablesOfTenThousandStacks() {
    let distinctStacks = 10_000
    let threads = 4
    var builder = ProfileBuilder(eventName: "cpu-clock")
    let threadIDs = (0..<threads).map {
      builder.thread(Profile.Thread(pid: 100, tid: Int32(100 + $0), comm: "worker"))
    }
    // Stacks of 8–23 frames: a leaf of 1,000, a caller of 10 (together unique per stack), shared callers.
    var stackIDs: [Int] = []
    for s in 0..<distinctStacks {
      var user = [UInt64(0x40_0000 + (s % 1_000) * 16), UInt64(0x50_0000 + (s / 1_000) * 16)]
      user += (0..<(6 + s % 16)).map { UInt64(0x60_0000 + $0 * 16) }
      let kernel = [0xffff_ffff_8100_0000 + UInt64(s % 50)]
      stackIDs.append(builder.stack(Profile.Stack(kernel: kernel, user: user), pid: 100))
    }
    let distinct = Set(stackIDs).count
    func feed(_ samples: Int, from start: Int) {
      for i in start..<start + samples {
        builder.add(stack: stackIDs[(i &* 31) % distinctStacks], thread: threadIDs[i % threads], weight: 1000)
      }
    }
    feed(100_000, from: 0)
    let afterHundredThousand = builder.profile.tableBytes
    feed(900_000, from: 100_000)
    let profile = builder.build()
    #expect(profile.sampleCount == 1_000_000)
    #expect(profile.totalWeight == 1_000_000_000)
    #expect(profile.stacks.count == distinctStacks && distinct == distinctStacks)
    // 1,000 leaves, 10 + 21 callers, 50 kernel leaves.
    #expect(profile.locations.count == 1_000 + 10 + 21 + 50)
    #expect(profile.entries.count <= distinct * threads)
    // Nine times the samples, not one byte more of tables.
    #expect(profile.tableBytes == afterHundredThousand)
    // About 16 location ids per stack plus per-stack and per-entry bookkeeping: well under 200 bytes a stack.
    #expect(profile.tableBytes < distinct * 200 + (profile.entries.count * 64), "\(profile.tableBytes) bytes")
  }
}
