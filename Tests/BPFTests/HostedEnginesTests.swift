import Foundation
import SondeTestSupport
import Testing

/// The base the agent needs: several engines in one long-lived process, each stopped on its own. The check
/// runs in a helper process (`sonde-hosting-check`) so that its descriptor counts see only its own engines,
/// not the other tests running in parallel in this one.
@Suite struct HostedEnginesTests {
  @Test func stoppingTheRecorderClosesAllItsDescriptorsWhileCountingAndABPFReaderKeepDelivering() throws {
    let dir = try TestSupport.temporaryDirectory("hosting")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let check = TestSupport.binDirectory + "/sonde-hosting-check"
    let run = try TestSupport.run(check, [TestSupport.demo, dir + "/hosted.data"])
    #expect(run.status == 0, "\(run.stderr)")
    let line = try #require(run.stdout.split(separator: "\n").last, "\(run.stdout) \(run.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    let value = { (key: String) in report[key] as? Int ?? -1 }
    #expect(report["error"] as? String == "", "\(line)")
    #expect(value("during") > value("before"), "the recorder opened its events and rings: \(line)")
    #expect(value("after") == value("before"), "every descriptor of the stopped recorder is closed: \(line)")
    #expect(value("samples") > 0, "\(line)")
    #expect(value("events_later") > value("events_at_stop"), "the BPF reader still delivers: \(line)")
    #expect(value("intervals_later") > value("intervals_at_stop"), "the counting engine still delivers: \(line)")
    // The recording it stopped is a valid file.
    let report2 = try TestSupport.run(TestSupport.sonde, ["report", "-i", dir + "/hosted.data", "--sort", "comm"])
    #expect(report2.status == 0, "\(report2.stderr)")
  }
}
