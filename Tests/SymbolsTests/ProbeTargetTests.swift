import SondeSystem
import Symbols
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Finding what a uprobe names (issue 12): libraries as the loader would, functions by mangled or demangled
/// name, and close names when there is no such function.
struct ProbeTargetTests {
  @Test func librariesAreFoundByTheirLoaderNames() throws {
    let full = try BinaryLocator.locate("libc.so.6")
    #expect(full.hasSuffix("/libc.so.6"), "\(full)")
    #expect(try BinaryLocator.locate("libc").hasSuffix("/libc.so.6"))
    #expect(try BinaryLocator.locate(full) == full)
    #expect(throws: SondeError.self) { try BinaryLocator.locate("libno-such-library-sonde") }
  }

  @Test func functionsAreFoundByMangledOrDemangledNames() throws {
    let libc = try ELFFile.open(path: try BinaryLocator.locate("libc.so.6"))
    let malloc = try libc.probeTarget(named: "malloc")
    #expect(malloc.symbol == "malloc" && malloc.fileOffset > 0)
    // A C++ function of the Swift runtime, by the short name profiles print.
    let core = try ELFFile.open(path: try #require(Self.swiftCore()))
    let cxx = try core.probeTarget(named: "swift::initializeDynamicReplacementLookup")
    #expect(cxx.symbol == "_ZN5swift34initializeDynamicReplacementLookupEv")
    do {
      _ = try libc.probeTarget(named: "mallocc")
      Issue.record("no error for a misspelled function")
    } catch {
      #expect(error.description.contains("close names") && error.description.contains("malloc"), "\(error)")
    }
  }

  static func swiftCore() -> String? {
    let maps = try? ProcessMaps.read(pid: getpid())
    return maps?.mappings.first { $0.path.hasSuffix("/libswiftCore.so") }?.path
  }
}
