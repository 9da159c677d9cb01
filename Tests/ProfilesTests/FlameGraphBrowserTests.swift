import Foundation
import Testing

@testable import Profiles

/// The flame graph's interactivity, exercised in a real browser: headless Chromium loads the SVG,
/// runs its script with deep-link parameters (?z= zoom, ?s= search) and dumps the resulting DOM.
struct FlameGraphBrowserTests {
  static func dumpDOM(_ svg: String, query: String) throws -> String {
    let path = NSTemporaryDirectory() + "sonde-fg-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).svg"
    try svg.write(toFile: path, atomically: true, encoding: .utf8)
    defer { unlink(path) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
    p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://\(path)?\(query)"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
  }

  @Test func searchHighlightsMatchesAndReportsTheirShareOfSamples() throws {
    let svg = FlameGraphSVG().render(ProfileTests.profile())
    let dom = try Self.dumpDOM(svg, query: "s=%5E(leaf%7Csys_x)%24")
    #expect(dom.contains("Matched: 100.0%"), "leaf (3) + sys_x (1) of 4 samples")
    let nested = try Self.dumpDOM(svg, query: "s=main%7Ca")
    #expect(nested.contains("Matched: 100.0%"), "a inside main is not counted twice")
    let one = try Self.dumpDOM(svg, query: "s=%5Eb%24")
    #expect(one.contains("Matched: 25.0%"))
    #expect(one.contains("fill=\"rgb(230,0,230)\""))
  }

  @Test func clickingAFrameZoomsSoItFillsTheWidthAndHidesItsSiblings() throws {
    var fg = FlameGraphSVG()
    fg.width = 1020
    let dom = try Self.dumpDOM(fg.render(ProfileTests.profile()), query: "z=b")
    // b and its child fill the 1000 px plot; the a/leaf branch is hidden; ancestors become faded parents.
    #expect(dom.contains("data-n=\"b\" data-x=\"3\" data-v=\"1\" data-d=\"3\">"))
    let b = try #require(dom.range(of: "data-n=\"b\""))
    let rect = dom[b.upperBound...].prefix(400)
    #expect(rect.contains("x=\"10.00\"") && rect.contains("width=\"1000.00\""), "\(rect)")
    #expect(dom.contains("class=\"f hide\" data-n=\"a\""))
    #expect(dom.contains("class=\"f hide\" data-n=\"leaf\""))
    #expect(dom.contains("class=\"f parent\" data-n=\"main\""))
    #expect(dom.contains("id=\"unzoom\" class=\"button\" x=\"10\" y=\"24\" style=\"\""))
  }
}
