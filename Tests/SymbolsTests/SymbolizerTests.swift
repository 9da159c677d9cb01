import Foundation
import SondeSystem
import SondeTestSupport
import Testing

@testable import Symbols

@Suite struct SymbolizerTests {
  /// Addresses of the test process's own libc functions, found through dlsym.
  static func libcAddresses() throws -> [(UInt64, String)] {
    let handle = try #require(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD))
    return try ["getpid", "strlen", "qsort", "fopen", "opendir", "pthread_create", "mmap", "nanosleep"].map { name in
      let symbol = try #require(dlsym(handle, name))
      return (UInt64(UInt(bitPattern: symbol)) + 1, name)
    }
  }

  @Test func concurrentTasksGetTheSameAnswersAsASequentialRun() async throws {
    let addresses = try Self.libcAddresses()
    let symbolizer = Symbolizer()
    let pid = getpid()
    let expected = Symbolizer().symbolize(pid: pid, addresses: addresses.map(\.0))
    let results = await withTaskGroup(of: [SymbolizedFrame].self) { group in
      for _ in 0..<16 { group.addTask { symbolizer.symbolize(pid: pid, addresses: addresses.map(\.0)) } }
      var all: [[SymbolizedFrame]] = []
      for await result in group { all.append(result) }
      return all
    }
    #expect(results.count == 16)
    for result in results { #expect(result == expected) }
    // The libc aliases resolve to a symbol whose range covers the address (the name may be an alias).
    for (frame, (_, name)) in zip(expected, addresses) {
      #expect(frame.status == .resolved, "\(name)")
      #expect(frame.symbolOffset == 1, "\(name): \(frame)")
    }
  }

  @Test func identicalBinariesAreLoadedOnceByBuildID() throws {
    let directory = Support.temporaryDirectory("dedupe-\(getpid())")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let library = try Support.sharedLibraryFixture.get()
    try? FileManager.default.removeItem(atPath: directory + "/a.so")
    try? FileManager.default.removeItem(atPath: directory + "/b.so")
    try FileManager.default.copyItem(atPath: library, toPath: directory + "/a.so")
    try FileManager.default.copyItem(atPath: library, toPath: directory + "/b.so")
    let symbolizer = Symbolizer()
    let a = try symbolizer.loadFile(directory + "/a.so")
    let b = try symbolizer.loadFile(directory + "/b.so")
    #expect(a === b)
    #expect(a.elf.buildIDHex != nil)
  }

  @Test func imageCacheIsBoundedByLRU() throws {
    var options = Symbolizer.Options()
    options.maxCachedImages = 2
    let symbolizer = Symbolizer(options: options)
    let files = ["/bin/true", "/bin/ls", try Support.sharedLibraryFixture.get(), try #require(LibcLocator.path)]
    for file in files + files { _ = try symbolizer.loadFile(file) }
    #expect(symbolizer.cachedImageCount <= 2)

    // The memory bound: a budget below libc's symbol table keeps only the most recent image.
    var small = Symbolizer.Options()
    small.maxCachedSymbolBytes = 64 << 10
    let bounded = Symbolizer(options: small)
    for file in files { _ = try bounded.loadFile(file) }
    #expect(bounded.cachedImageCount == 1)
    #expect(bounded.cachedSymbolBytes > 64 << 10)  // the newest entry always stays, even when over budget
    let frame = try bounded.symbolize(file: "/bin/true", addresses: [0])
    #expect(frame.count == 1)
    // Results stay correct after evictions.
    let frames = try symbolizer.symbolize(file: try Support.sharedLibraryFixture.get(), addresses: [])
    #expect(frames.isEmpty)
  }

  @Test func unknownAddressesRenderWithModuleAndOffset() throws {
    let symbolizer = Symbolizer()
    let frames = try symbolizer.symbolize(file: try #require(LibcLocator.path), addresses: [0x10])
    #expect(frames[0].status == .noSymbol)
    #expect(frames[0].name == "[unknown]")
    #expect(frames[0].description == "[unknown] (libc.so.6+0x10)")
  }

  @Test func cliReportsBadInputAsErrors() throws {
    let (missing, _) = try Support.run(TestSupport.sonde, ["symbolize", "-e", "/nonexistent", "0x10"])
    #expect(missing != 0)
    let (badAddress, _) = try Support.run(TestSupport.sonde, ["symbolize", "-e", "/bin/true", "xyz"])
    #expect(badAddress != 0)
    let (noMode, _) = try Support.run(TestSupport.sonde, ["symbolize", "0x10"])
    #expect(noMode != 0)
    let (noProcess, _) = try Support.run(TestSupport.sonde, ["symbolize", "-p", "2147483646", "0x10"])
    #expect(noProcess != 0)
  }

  @Test func cliReadsAddressesAndNamesFromStandardInput() throws {
    let library = try Support.sharedLibraryFixture.get()
    let elf = try ELFFile.open(path: library)
    let symbol = try #require(try elf.symbols(named: "sonde_fixture_library_other").first)
    let (status, output) = try Support.run(
      TestSupport.sonde, ["symbolize", "-e", library], input: "0x\(String(symbol.address, radix: 16))\n\n")
    #expect(status == 0)
    #expect(output.contains("\tsonde_fixture_library_other (libsondefixture.so)"))
    let (_, names) = try Support.run(TestSupport.sonde, ["symbolize", "--demangle"], input: "_Z3fooi\nmain\n")
    #expect(names == "foo(int)\nmain\n")
  }

  @Test func cliPrintsAddr2lineStyleText() throws {
    let library = try Support.sharedLibraryFixture.get()
    let elf = try ELFFile.open(path: library)
    let symbol = try #require(elf.symbolTable().symbols.first { $0.name == "sonde_fixture_library_function" })
    let (status, output) = try Support.run(
      TestSupport.sonde, ["symbolize", "-e", library, String(symbol.address + 4, radix: 16)])
    #expect(status == 0)
    #expect(
      output == "0x\(String(symbol.address + 4, radix: 16))\tsonde_fixture_library_function+0x4 (libsondefixture.so)\n")
  }
}

@Suite struct DebugFileTests {
  /// libc is stripped of `.symtab`; with libc6-dbg installed (scripts/setup.sh) its build-id debug file supplies
  /// the static functions.
  @Test func strippedLibcFindsItsBuildIDDebugFile() throws {
    let libc = try #require(LibcLocator.path)
    let image = try Symbolizer().loadFile(libc)
    #expect(!image.elf.hasSymtab)
    let hex = try #require(image.elf.buildIDHex)
    let expected = "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
    guard FileManager.default.fileExists(atPath: expected) else {
      Issue.record("libc6-dbg is not installed (scripts/setup.sh installs it): \(expected) missing")
      return
    }
    #expect(image.debugFile?.path == expected)
    #expect(image.symbols.symbols.count > image.elf.symbolTable().symbols.count)
  }
}

@Suite struct RefreshAndEndiannessTests {
  /// A library loaded after the process's maps were cached is found: a miss re-reads /proc/PID/maps.
  @Test func mapsAreRereadWhenAnAddressIsNotInTheCachedMaps() throws {
    let symbolizer = Symbolizer()
    _ = symbolizer.symbolize(pid: getpid(), addresses: [0x1000])  // caches the current maps
    let directory = Support.temporaryDirectory("refresh-\(getpid())")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // A private copy so this process has not mapped it before.
    let copy = directory + "/librefresh.so"
    try? FileManager.default.removeItem(atPath: copy)
    try FileManager.default.copyItem(atPath: try Support.sharedLibraryFixture.get(), toPath: copy)
    let handle = try #require(dlopen(copy, RTLD_NOW | RTLD_LOCAL))
    defer { dlclose(handle) }
    let function = try #require(dlsym(handle, "sonde_fixture_library_other"))
    let frame = symbolizer.symbolize(pid: getpid(), address: UInt64(UInt(bitPattern: function)))
    #expect(frame.symbol == "sonde_fixture_library_other")
    #expect(frame.module == copy)
  }

  /// Big-endian 32-bit images (e.g. from a MIPS or PowerPC target) symbolize through the CLI like any other.
  @Test(arguments: [(false, true), (false, false), (true, true)])
  func cliSymbolizesForeignClassAndByteOrder(is64: Bool, bigEndian: Bool) throws {
    var builder = ELFBuilder()
    builder.is64 = is64
    builder.bigEndian = bigEndian
    builder.machine = bigEndian ? 8 : 3
    builder.symbols = [.init(name: "_Z6targeti", address: 0x40_0480, size: 0x20)]
    let directory = Support.temporaryDirectory("foreign-\(getpid())-\(is64)-\(bigEndian)")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/image"
    try Data(builder.build()).write(to: URL(fileURLWithPath: path))
    let frames = try Support.symbolizeJSON(["-e", path, "0x400490"])
    #expect(frames.first?["symbol"] as? String == "_Z6targeti")
    #expect(frames.first?["demangled"] as? String == "target(int)")
    #expect(frames.first?["offset"] as? Int == 0x10)
    #expect(frames.first?["build_id"] as? String == "deadbeef0102030405060708090a0b0c0d0e0f10")
  }
}
