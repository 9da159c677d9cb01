import Foundation
import SondeSystem
import SondeTestSupport
import Testing

@testable import Symbols

/// A fixture process in `serve` mode: it dlopen()s the test library, prints its pid and three runtime
/// addresses (its own @_cdecl function + 1, the library function + 2, the vDSO's clock_gettime + 1), and
/// lives until its stdin closes.
final class ServingFixture {
  let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  var pid: Int32 = 0
  var marker: UInt64 = 0
  var library: UInt64 = 0
  var vdso: UInt64 = 0

  init(executable: String, arguments: [String] = [], launcher: [String] = []) throws {
    let library = try Support.sharedLibraryFixture.get()
    if launcher.isEmpty {
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments + ["serve", library]
    } else {
      process.executableURL = URL(fileURLWithPath: launcher[0])
      process.arguments = Array(launcher.dropFirst()) + [executable, "serve", library]
    }
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    var text = ""
    while !text.contains("\n") {
      let data = output.fileHandleForReading.availableData
      if data.isEmpty { break }
      text += String(decoding: data, as: UTF8.self)
    }
    let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard fields.count == 4, let pid = Int32(fields[0]), let marker = UInt64(fields[1], radix: 16),
      let library = UInt64(fields[2], radix: 16), let vdso = UInt64(fields[3], radix: 16)
    else { throw Support.FixtureError(message: "fixture said: \(text)") }
    self.pid = pid
    self.marker = marker
    self.library = library
    self.vdso = vdso
  }

  func stop() {
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
  }

  deinit { if process.isRunning { process.terminate() } }
}

@Suite struct ProcessTests {
  @Test func parsesMapsIncludingDeletedAnonymousAndSpecialMappings() throws {
    let text = """
      55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 1234                       /usr/bin/my tool
      55d0c0a02000-55d0c0a05000 r-xp 00002000 08:01 1234                       /usr/bin/my tool
      55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]
      7f0000000000-7f0000001000 r-xp 00000000 00:00 0
      7f1000000000-7f1000010000 r-xp 00010000 08:01 999                        /tmp/old.so (deleted)
      7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
      7ffd10000000-7ffd10004000 r--p 00000000 00:00 0                          [vvar]
      7ffd10004000-7ffd10006000 r-xp 00000000 00:00 0                          [vdso]
      ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
      garbage line
      """
    let maps = ProcessMaps(pid: 1, parsing: text)
    #expect(maps.mappings.count == 9)
    let tool = try #require(maps.mapping(containing: 0x55d0_c0a0_3000))
    #expect(tool.path == "/usr/bin/my tool")
    #expect(tool.isExecutable)
    #expect(tool.offset == 0x2000)
    #expect(tool.fileOffset(of: 0x55d0_c0a0_3010) == 0x3010)
    #expect(maps.moduleBase(of: tool) == 0x55d0_c0a0_0000)
    #expect(maps.mapping(containing: 0x7f00_0000_0010)?.kind == .anonymous)
    let deleted = try #require(maps.mapping(containing: 0x7f10_0000_0000))
    #expect(deleted.isDeleted && deleted.path == "/tmp/old.so" && deleted.inode == 999)
    #expect(maps.mapping(containing: 0x55d0_c100_0000)?.kind == .heap)
    #expect(maps.mapping(containing: 0x7ffd_0000_0000)?.kind == .stack)
    #expect(maps.mapping(containing: 0x7ffd_1000_4000)?.kind == .vdso)
    #expect(maps.mapping(containing: 0x7ffd_1000_0000)?.kind == .vvar)
    #expect(maps.mapping(containing: 0xffff_ffff_ff60_0000)?.kind == .vsyscall)
    #expect(maps.mapping(containing: 0x1000) == nil)
    #expect(maps.mapping(containing: 0x55d0_c0a0_5000) == nil)
  }

  @Test func liveProcessSymbolizesItsBinaryADlopenedLibraryAndTheVDSO() throws {
    let fixture = try ServingFixture(executable: try Support.swiftFixture.get())
    defer { fixture.stop() }
    let symbolizer = Symbolizer()
    let frames = symbolizer.symbolize(
      pid: fixture.pid, addresses: [fixture.marker, fixture.library, fixture.vdso, 0x10])
    #expect(frames[0].symbol == "sonde_fixture_marker")
    #expect(frames[0].symbolOffset == 1)
    #expect(frames[0].moduleName == "sonde-symbols-fixture")
    #expect(frames[1].symbol == "sonde_fixture_library_function")
    #expect(frames[1].symbolOffset == 2)
    #expect(frames[1].moduleName == "libsondefixture.so")
    #expect(frames[2].module == "[vdso]")
    #expect(frames[2].symbol == "__vdso_clock_gettime" || frames[2].symbol == "clock_gettime")
    #expect(frames[2].symbolOffset == 1)
    // Unknown addresses are kept, in order, as [unknown].
    #expect(frames[3].status == .unmapped)
    #expect(frames[3].description == "[unknown] (0x10)")

    // The CLI gives the same answers.
    let cli = try Support.symbolizeJSON(
      ["-p", String(fixture.pid)] + [fixture.marker, fixture.library, fixture.vdso].map { String($0, radix: 16) })
    #expect(cli.map { $0["symbol"] as? String } == frames.prefix(3).map(\.symbol))
  }

  @Test func deletedAndReplacedBinaryStillResolvesAndIsReportedAsDeleted() throws {
    let directory = Support.temporaryDirectory("replaced-\(getpid())")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let copy = directory + "/replaced-fixture"
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: try Support.swiftFixture.get(), toPath: copy)
    let fixture = try ServingFixture(executable: copy)
    defer { fixture.stop() }
    // Replace the binary on disk with a different ELF file at the same path.
    try FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: try Support.sharedLibraryFixture.get(), toPath: copy)
    let frame = Symbolizer().symbolize(pid: fixture.pid, address: fixture.marker)
    #expect(frame.symbol == "sonde_fixture_marker")
    #expect(frame.moduleDeleted)
    #expect(frame.module == copy)
    #expect(frame.description.contains("(deleted)"))
  }

  @Test func processInAnotherMountNamespaceResolvesThroughProcRoot() throws {
    guard let unshare = TestSupport.tool("unshare"), getuid() == 0 else {
      Issue.record("needs root and unshare(1) to create a mount namespace")
      return
    }
    // The binary lives on a tmpfs mounted only inside the child's mount namespace: our namespace has no such
    // path, so only /proc/PID/root (or map_files) can reach it.
    let script = """
      set -e; dir=$(mktemp -d /tmp/sonde-ns-XXXXXX); mount -t tmpfs none "$dir"; cp "$1" "$dir/ns-fixture"; \
      shift; exec "$dir/ns-fixture" "$@"
      """
    let fixture = try ServingFixture(
      executable: try Support.swiftFixture.get(),
      launcher: [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh"])
    defer { fixture.stop() }
    let frame = Symbolizer().symbolize(pid: fixture.pid, address: fixture.marker)
    #expect(frame.symbol == "sonde_fixture_marker")
    let module = try #require(frame.module)
    #expect(module.hasSuffix("/ns-fixture"))
    #expect(!FileManager.default.fileExists(atPath: module))
    // The mount point directory exists (empty) in our namespace too; remove it once the child is gone.
    fixture.stop()
    _ = rmdir(String(module.dropLast("/ns-fixture".count)))
  }

  @Test func ownProcessVDSOSymbolizes() throws {
    let handle = try #require(dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD))
    let function = try #require(dlsym(handle, "__vdso_gettimeofday"))
    let address = UInt64(UInt(bitPattern: function)) + 3
    let frame = Symbolizer().symbolize(pid: getpid(), address: address)
    #expect(frame.module == "[vdso]")
    #expect(frame.symbol == "__vdso_gettimeofday" || frame.symbol == "gettimeofday")
    #expect(frame.symbolOffset == 3)
    #expect(frame.buildID != nil)
  }

  @Test func jitCodeInAnonymousMemoryIsNamedByPerfMap() throws {
    let size = 8192
    let region = try #require(mmap(nil, size, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    defer { munmap(region, size) }
    let start = UInt64(UInt(bitPattern: region))
    let mapPath = "/tmp/perf-\(getpid()).map"
    let text =
      "\(String(start, radix: 16)) 100 jitted_function_one\n\(String(start + 0x100, radix: 16)) 80 LazyCompile:*two js\n"
    try text.write(toFile: mapPath, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: mapPath) }
    let frames = Symbolizer().symbolize(pid: getpid(), addresses: [start + 0x10, start + 0x120, start + 0x1000])
    #expect(frames[0].name == "jitted_function_one")
    #expect(frames[0].symbolOffset == 0x10)
    #expect(frames[1].name == "LazyCompile:*two js")
    #expect(frames[2].status == .noSymbol)
    #expect(frames[2].description.hasPrefix("[unknown] ([anon]+0x1000"))
  }

  @Test func perfMapParsesAndSkipsBadLines() {
    let map = PerfMap(parsing: "1000 10 a\nzz 1 bad\n2000 20 b c\n\n0x3000 0x8 d\n")
    #expect(map.entries.map(\.name) == ["a", "b c", "d"])
    #expect(map.lookup(0x100f)?.name == "a")
    #expect(map.lookup(0x1010) == nil)
    #expect(map.lookup(0x3007)?.name == "d")
  }

  @Test func missingProcessIsAnExplainedError() {
    #expect(throws: SondeError.self) { try ProcessMaps.read(pid: Int32.max) }
    let frames = Symbolizer().symbolize(pid: Int32.max, addresses: [0x1000])
    #expect(frames.count == 1)
    #expect(frames[0].status == .unmapped)
  }
}

@Suite struct MappingAPITests {
  /// What perf.data's report needs: resolve a runtime address to file offset and ELF address, then symbolize
  /// later from the recorded mapping alone, after the process has exited.
  @Test func recordedMappingsSymbolizeAfterTheProcessExits() throws {
    let binary = try Support.swiftFixture.get()
    let fixture = try ServingFixture(executable: binary)
    let symbolizer = Symbolizer()
    let resolution = try #require(symbolizer.resolve(pid: fixture.pid, address: fixture.marker))
    let libraryMapping = try #require(try ProcessMaps.read(pid: fixture.pid).mapping(containing: fixture.library))
    fixture.stop()

    let elf = try ELFFile.open(path: binary)
    let symbol = try #require(elf.symbolTable().symbols.first { $0.name == "sonde_fixture_marker" })
    #expect(resolution.mapping.path == binary)
    #expect(resolution.elfAddress == symbol.address + 1)
    #expect(resolution.fileOffset == elf.fileOffset(forVirtualAddress: symbol.address + 1))

    // A fresh symbolizer (no cached process) works from the recorded mappings and the files on disk.
    let later = Symbolizer()
    let frame = later.symbolize(address: fixture.marker, in: resolution.mapping, pid: fixture.pid)
    #expect(frame.symbol == "sonde_fixture_marker" && frame.symbolOffset == 1)
    let library = later.symbolize(address: fixture.library, in: libraryMapping)
    #expect(library.symbol == "sonde_fixture_library_function" && library.symbolOffset == 2)
    // A recorded inode that does not match the file on disk is not trusted.
    var stale = libraryMapping
    stale.inode &+= 1
    #expect(Symbolizer().symbolize(address: fixture.library, in: stale).status == .moduleUnreadable)
  }
}

@Suite struct LoadBiasTests {
  /// The whole image is loaded with one bias, so every runtime address of the binary — including the file
  /// page that the text and data segments share — maps to `address - bias`.
  @Test func everyMappingOfTheBinaryAndLibraryResolvesWithTheirSingleLoadBias() throws {
    let binary = try Support.swiftFixture.get()
    let library = try Support.sharedLibraryFixture.get()
    let fixture = try ServingFixture(executable: binary)
    defer { fixture.stop() }
    let maps = try ProcessMaps.read(pid: fixture.pid)
    let symbolizer = Symbolizer()
    for path in [binary, library] {
      let own = maps.mappings.filter { $0.path == path }
      try #require(own.count >= 2, "\(path) has \(own.count) mappings")
      let elf = try ELFFile.open(path: path)
      let firstLoad = try #require(elf.loadSegments.min { $0.virtualAddress < $1.virtualAddress })
      let base = try #require(own.first { $0.offset == 0 })
      let bias = base.start &- (firstLoad.virtualAddress & ~4095)
      for mapping in own {
        for address in [mapping.start, mapping.start + 0x10, mapping.end - 8] {
          let resolution = try #require(symbolizer.resolve(pid: fixture.pid, address: address))
          #expect(
            resolution.elfAddress == address &- bias,
            "\(path): \(mapping.permissions) mapping at offset \(mapping.offset)")
        }
      }
    }
  }
}
