import Pprof
import PprofMessages
import Profiles
import SondeTestSupport
import Testing

/// The pprof exporter on hand-built profiles with exact expectations, and gzip on hostile input.
struct PprofExporterTests {
  /// Two processes of one binary mapped at different addresses, a kernel frame, and a frame nothing names.
  static func profile() -> ResolvedProfile {
    var b = ProfileBuilder(eventName: "cpu-clock")
    b.setRate(frequency: 100, period: nil)
    b.addMapping(Profile.Mapping(pid: 10, start: 0x1000, end: 0x2000, fileOffset: 0, path: "/bin/app"))
    b.addMapping(
      Profile.Mapping(pid: 20, start: 0x5000, end: 0x6000, fileOffset: 0, path: "/bin/app", buildID: [0xab, 0x01]))
    let a = Profile.Thread(pid: 10, tid: 11, comm: "app")
    let c = Profile.Thread(pid: 20, tid: 20, comm: "app2")
    // Leaf first: leaf ← main, three samples; a kernel frame over main, one; an unmapped leaf, two.
    b.add(thread: a, stack: Profile.Stack(user: [0x1300, 0x1100]), count: 3, weight: 3)
    b.add(thread: c, stack: Profile.Stack(kernel: [0xffff_8000_0000_0010], user: [0x5100]), count: 1, weight: 1)
    b.add(thread: c, stack: Profile.Stack(user: [0x9999, 0x5100]), count: 2, weight: 2)
    let names: [UInt64: String] = [0x1100: "main", 0x5100: "main", 0x1300: "leaf", 0xffff_8000_0000_0010: "sys_x"]
    return ResolvedProfile(b.build()) { _, address, kernel, _ in
      ResolvedFrame(
        name: names[address] ?? "[unknown]", module: kernel ? "[kernel.kallsyms]" : "app", isKernel: kernel)
    }
  }

  static func decoded(_ options: PprofExporter.Options) throws -> Perftools_Profiles_Profile {
    try Perftools_Profiles_Profile(pprofFile: PprofExporter.render(profile(), options: options))
  }

  @Test func everyReferenceResolvesAndStringZeroIsEmpty() throws {
    var options = PprofExporter.Options.cpu(frequency: 100, weightIsCount: true)
    options.comments = ["6 samples taken", "nothing lost"]
    options.buildIDs = ["/bin/app": [0x12, 0x34]]
    let p = try Self.decoded(options)
    #expect(PprofStructure.problems(p) == [])
    #expect(p.stringTable[0] == "")
    #expect(p.comment.compactMap { p.string($0) } == ["6 samples taken", "nothing lost"])
  }

  @Test func samplesCarryCountsCPUTimeAndThreadLabels() throws {
    let p = try Self.decoded(.cpu(frequency: 100, weightIsCount: true))
    #expect(
      p.sampleType.map { [p.string($0.type), p.string($0.unit)] } == [["samples", "count"], ["cpu", "nanoseconds"]])
    #expect(p.string(p.periodType.type) == "cpu" && p.period == 10_000_000)
    #expect(p.string(p.defaultSampleType) == "cpu")
    #expect(p.sample.map(\.value) == [[3, 30_000_000], [1, 10_000_000], [2, 20_000_000]])
    let labels = p.sample[0].label.map { (p.string($0.key) ?? "?", $0.num, p.string($0.str) ?? "?") }
    #expect(labels.map(\.0) == ["pid", "tid", "comm"])
    #expect(labels[0].1 == 10 && labels[1].1 == 11 && labels[2].2 == "app")
  }

  @Test func stacksAreLeafFirstAndNameTheirFunctions() throws {
    let p = try Self.decoded(.cpu(frequency: 100, weightIsCount: true))
    let location = Dictionary(uniqueKeysWithValues: p.location.map { ($0.id, $0) })
    let function = Dictionary(uniqueKeysWithValues: p.function.map { ($0.id, p.string($0.name) ?? "?") })
    func names(_ sample: Perftools_Profiles_Sample) -> [String] {
      sample.locationID.map { id in location[id]?.line.first.flatMap { function[$0.functionID] } ?? "<none>" }
    }
    #expect(names(p.sample[0]) == ["leaf", "main"])
    #expect(names(p.sample[1]) == ["sys_x", "main"])
    // A frame nothing names has no line, so pprof shows its address instead of one merged "[unknown]".
    #expect(names(p.sample[2]) == ["<none>", "main"])
    #expect(location[p.sample[2].locationID[0]]?.address == 0x9999)
  }

  @Test func locationsPointAtTheirProcessesMappingsWithBuildIDs() throws {
    var options = PprofExporter.Options.cpu(frequency: 100, weightIsCount: true)
    options.buildIDs = ["/bin/app": [0x12, 0x34]]
    let p = try Self.decoded(options)
    let mapping = Dictionary(uniqueKeysWithValues: p.mapping.map { ($0.id, $0) })
    let location = Dictionary(uniqueKeysWithValues: p.location.map { ($0.id, $0) })
    func mappingOf(_ sample: Int, _ frame: Int) -> Perftools_Profiles_Mapping? {
      location[p.sample[sample].locationID[frame]].flatMap { mapping[$0.mappingID] }
    }
    // The same file in two processes: two mappings at their own addresses; the recorded build-id wins over
    // the one looked up by path.
    #expect(mappingOf(0, 0).map { "\($0.memoryStart) \(p.string($0.buildID) ?? "?")" } == "4096 1234")
    #expect(mappingOf(1, 1).map { "\($0.memoryStart) \(p.string($0.buildID) ?? "?")" } == "20480 ab01")
    #expect(mappingOf(1, 0).flatMap { p.string($0.filename) } == "[kernel.kallsyms]")
    #expect(location[p.sample[2].locationID[0]]?.mappingID == 0, "an address no mapping holds names none")
  }

  @Test func offCPUProfilesAreWeightedByBlockedTime() throws {
    var b = ProfileBuilder(eventName: "offcpu-time")
    b.add(
      thread: Profile.Thread(pid: 1, tid: 1, comm: "x"), stack: Profile.Stack(user: [0x10]), count: 5,
      weight: 1_000_000_000)
    let r = ResolvedProfile(b.build()) { _, _, _, _ in ResolvedFrame(name: "nap", module: "x", isKernel: false) }
    let p = try Perftools_Profiles_Profile(
      pprofFile: PprofExporter.render(r, options: .fitting(r.source, weightIsCount: false)))
    #expect(p.sampleType.map { p.string($0.type) } == ["waits", "off_cpu"])
    #expect(p.sample.map(\.value) == [[5, 1_000_000_000]])
  }

  @Test func valuesSaturateInsteadOfOverflowing() throws {
    var b = ProfileBuilder(eventName: "cpu-clock")
    b.add(
      thread: Profile.Thread(pid: 1, tid: 1, comm: "x"), stack: Profile.Stack(user: [0x10]), count: .max, weight: .max)
    let r = ResolvedProfile(b.build()) { _, _, _, _ in ResolvedFrame(name: "f", module: "x", isKernel: false) }
    let p = try Perftools_Profiles_Profile(
      pprofFile: PprofExporter.render(r, options: .cpu(frequency: 1, weightIsCount: true)))
    #expect(p.sample.map(\.value) == [[.max, .max]])
  }

  @Test func gzipRoundTripsAndRefusesTruncatedOversizedOrForeignData() throws {
    let text = Array(String(repeating: "sonde profile ", count: 5000).utf8)
    let packed = try Gzip.compress(text)
    #expect(Gzip.isGzip(packed) && packed.count < text.count / 10)
    #expect(try Gzip.decompress(packed) == text)
    // Two members are one file, as gzip(1) appends them.
    #expect(try Gzip.decompress(packed + (try Gzip.compress([1, 2, 3]))) == text + [1, 2, 3])
    #expect(throws: Gzip.Failure.truncated) { try Gzip.decompress(Array(packed.prefix(packed.count / 2))) }
    #expect(throws: Gzip.Failure.tooLarge(limit: 1000)) { try Gzip.decompress(packed, limit: 1000) }
    #expect(throws: Gzip.Failure.self) { try Gzip.decompress([0x1f, 0x8b, 8, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 2]) }
    // A "pprof file" that is neither gzip nor protobuf is an error, not a crash.
    #expect(throws: (any Error).self) { try Perftools_Profiles_Profile(pprofFile: [0xff, 0xff, 0xff, 0xff]) }
  }
}
