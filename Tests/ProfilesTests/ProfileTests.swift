import Testing

@testable import Profiles

/// The transport-neutral model and its exporters, on a hand-built profile with exact expectations.
struct ProfileTests {
  /// main → a → leaf (3 samples), main → b (1 sample), in one thread; addresses name the frames.
  static func profile() -> ResolvedProfile {
    var b = ProfileBuilder(eventName: "cpu-clock")
    let t = Profile.Thread(pid: 10, tid: 10, comm: "app")
    // Stacks are leaf first.
    for i in 0..<3 { b.add(thread: t, stack: Profile.Stack(user: [0x30, 0x20, 0x10]), weight: 100, time: UInt64(i)) }
    b.add(thread: t, stack: Profile.Stack(kernel: [0xffff_0001], user: [0x40, 0x10]), weight: 100, time: 9)
    b.addLost(2)
    let names: [UInt64: String] = [0x10: "main", 0x20: "a", 0x30: "leaf", 0x40: "b", 0xffff_0001: "sys_x"]
    return ResolvedProfile(b.build()) { _, address, kernel, ret in
      // Return addresses are looked up one byte back by real resolvers; here the name table ignores it.
      ResolvedFrame(name: names[address] ?? "?", module: kernel ? "[kernel.kallsyms]" : "app", isKernel: kernel)
    }
  }

  @Test func sumsOfFileSuppliedPeriodsAndLostCountsSaturateInsteadOfTrapping() {
    var b = ProfileBuilder(eventName: "cpu-clock")
    let t = Profile.Thread(pid: 1, tid: 1, comm: "x")
    // Two samples of period 2^63 (on one stack and on two), and LOST records claiming UInt64.max twice.
    b.add(thread: t, stack: Profile.Stack(user: [1]), weight: 1 << 63)
    b.add(thread: t, stack: Profile.Stack(user: [1]), weight: 1 << 63)
    b.add(thread: t, stack: Profile.Stack(user: [2]), weight: .max)
    b.addLost(.max)
    b.addLost(.max)
    b.addDropped(.max)
    b.addDropped(1)
    let p = b.build()
    #expect(p.entries[0].weight == .max)
    #expect(p.totalWeight == .max && p.sampleCount == 3)
    #expect(p.lost == .max && p.dropped == .max)
    let resolved = ResolvedProfile(p) { _, _, _, _ in ResolvedFrame(name: "f", module: "m", isKernel: false) }
    #expect(FoldedExporter.lines(resolved, useWeight: true).map(\.value) == [.max])
    #expect(!FlameGraphSVG(title: "t", subtitle: "s").render(resolved).isEmpty)
  }

  @Test func theBuilderInternsStacksAndAggregatesRepeatedSamples() {
    let p = Self.profile().source
    #expect(p.stacks.count == 2)
    #expect(p.threads.count == 1)
    #expect(p.entries.map(\.count) == [3, 1])
    #expect(p.sampleCount == 4 && p.totalWeight == 400)
    #expect(p.lost == 2)
    #expect(p.durationNanoseconds == 9)
  }

  @Test func resolvedFramesAreRootFirstWithKernelFramesAboveUserFrames() {
    let r = Self.profile()
    #expect(r.samples[0].frames.map(\.name) == ["main", "a", "leaf"])
    #expect(r.samples[1].frames.map(\.name) == ["main", "b", "sys_x"])
  }

  @Test func foldedLinesStartWithTheCommandAndCountSamples() {
    let text = FoldedExporter.render(Self.profile())
    #expect(text == "app;main;a;leaf 3\napp;main;b;sys_x 1\n")
    #expect(FoldedExporter.render(Self.profile(), useWeight: true) == "app;main;a;leaf 300\napp;main;b;sys_x 100\n")
  }

  @Test func flameGraphFrameWidthsAreProportionalToCounts() {
    var fg = FlameGraphSVG(title: "t & <x>")
    fg.width = 1020
    let svg = fg.render(Self.profile())
    // Plot width is 1000 px (1020 minus two 10 px margins); 4 samples in all.
    #expect(svg.contains("data-n=\"all\" data-x=\"0\" data-v=\"4\""))
    #expect(
      svg.contains(
        "data-n=\"a\" data-x=\"0\" data-v=\"3\" data-d=\"3\"><title>a (3 samples, 75.00%)</title><rect x=\"10.00\""))
    #expect(svg.contains("width=\"750.00\""))
    #expect(svg.contains("data-n=\"b\" data-x=\"3\" data-v=\"1\""))
    #expect(svg.contains("<rect x=\"760.00\"") && svg.contains("width=\"250.00\""))
    #expect(svg.contains("t &amp; &lt;x&gt;"))
    #expect(svg.contains("function search(") && svg.contains("function zoom(") && svg.contains("Reset Zoom"))
    #expect(!svg.contains("<script src") && !svg.contains("href="), "self-contained: no external resources")
  }

  @Test func labelsAreTruncatedToFitTheirFrames() {
    #expect(FlameGraphSVG.label("short", width: 100) == "short")
    #expect(FlameGraphSVG.label("a_rather_long_function_name", width: 76) == "a_rather..")
    #expect(FlameGraphSVG.label("x", width: 20) == "")
  }

  @Test func framesNarrowerThanTheMinimumWidthAreLeftOut() {
    var b = ProfileBuilder()
    let t = Profile.Thread(pid: 1, tid: 1, comm: "p")
    b.add(thread: t, stack: Profile.Stack(user: [1]), count: 100_000, weight: 100_000)
    b.add(thread: t, stack: Profile.Stack(user: [2]), count: 1, weight: 1)
    let r = ResolvedProfile(b.build()) { _, a, _, _ in
      ResolvedFrame(name: a == 1 ? "big" : "tiny", module: "m", isKernel: false)
    }
    let svg = FlameGraphSVG().render(r)
    #expect(svg.contains("data-n=\"big\""))
    #expect(!svg.contains("data-n=\"tiny\""), "1 of 100001 samples is 0.01 px wide")
    var all = FlameGraphSVG()
    all.minimumWidth = 0
    #expect(all.render(r).contains("data-n=\"tiny\""))
  }
}
