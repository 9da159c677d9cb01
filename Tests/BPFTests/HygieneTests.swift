import BPF
import Foundation
import SondeBPFTestPrograms
import SondeTestSupport
import Testing

/// After an object is closed or dropped, or its process exits or is interrupted, none of its programs or
/// maps remain in the kernel. bpftool is the oracle.
@Suite struct HygieneTests {
  /// Kernel ids of loaded programs (or maps) according to bpftool.
  static func bpftoolIDs(_ kind: String) -> [UInt32: String] {
    guard let text = (try? TestSupport.run("/usr/sbin/bpftool", [kind, "show", "--json"]))?.stdout,
      let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
    else { return [:] }
    var ids: [UInt32: String] = [:]
    for entry in list {
      if let id = entry["id"] as? Int { ids[UInt32(id)] = entry["name"] as? String ?? "" }
    }
    return ids
  }

  /// Whether `id` disappears from bpftool's list within a second: the kernel frees a program or map once
  /// its last reference goes, some of it after an RCU grace period or in a work queue.
  static func eventuallyGone(_ kind: String, _ id: UInt32) -> Bool {
    for _ in 0..<50 {
      if bpftoolIDs(kind)[id] == nil { return true }
      usleep(20_000)
    }
    return false
  }

  @Test func droppingTheObjectAndLinkRemovesProgramsAndMaps() throws {
    var programID: UInt32 = 0
    var mapID: UInt32 = 0
    do {
      var open = try OpenBPFObject(bytes: BPFTestProgramBytes.count, name: "count")
      try open.setConstant("target_tid", to: currentTID)
      let object = try open.load(only: ["sonde_tp_getpid"])
      let program = try object.program("sonde_tp_getpid")
      let link = try program.attach()
      programID = try #require(program.kernelID)
      mapID = try #require(try object.map("counts", key: UInt32.self, value: UInt64.self).kernelID)
      #expect(Self.bpftoolIDs("prog")[programID] == "sonde_tp_getpid")
      #expect(Self.bpftoolIDs("map")[mapID] == "counts")
      _ = link
    }
    #expect(Self.eventuallyGone("prog", programID))
    #expect(Self.eventuallyGone("map", mapID))
  }

  @Test func closingTheObjectDetachesLinksStillHeldByTheCaller() throws {
    let object = try OpenBPFObject(bytes: BPFTestProgramBytes.count, name: "count").load(only: ["sonde_tp_getpid"])
    let program = try object.program("sonde_tp_getpid")
    let link = try program.attach()
    let programID = try #require(program.kernelID)
    object.close()
    #expect(!link.isAttached)
    #expect(Self.eventuallyGone("prog", programID))
  }

  @Test func anInterruptedSondeProcessLeavesNoProgramBehind() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestSupport.binDirectory + "/sonde-hosting-check")
    process.arguments = ["--hold-bpf"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    // Wait for "holding program <id>".
    var text = ""
    while !text.contains("\n") {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      text += String(decoding: chunk, as: UTF8.self)
    }
    let id = try #require(
      UInt32(text.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
    #expect(Self.bpftoolIDs("prog")[id] == "sonde_tp_getpid")
    process.interrupt()  // SIGINT
    // Never hang the suite: a process that ignores SIGINT is a failure, not a wait.
    var polls = 0
    while process.isRunning && polls < 200 {
      usleep(50_000)
      polls += 1
    }
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      Issue.record("the holding process did not end within 10 s of SIGINT")
    }
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    #expect(Self.eventuallyGone("prog", id))
  }
}
