import PerfEvents
import Profiles
import Symbols
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Resolves profile addresses to function and module names using the mappings recorded in the profile
/// (not the live /proc, which may have changed or be gone) and the binaries on this machine; kernel
/// addresses via /proc/kallsyms.
public final class FileSymbolResolver {
  private let symbolizer: Symbolizer
  private let demangler = Demangler()
  private var byPid: [Int32: [Profile.Mapping]] = [:]
  private var images: [String: LoadedImage?] = [:]

  /// Whether the profile was recorded on the running kernel: only then do /proc/kallsyms and this
  /// process's vDSO describe its kernel and vDSO frames.
  private let sameKernel: Bool
  private lazy var vdso: (elf: ELFFile, symbols: SymbolTable)? = sameKernel ? Self.loadOwnVDSO() : nil

  public convenience init(profile: Profile, sameKernel: Bool = true, symbolizer: Symbolizer = Symbolizer()) {
    self.init(mappings: profile.mappings, sameKernel: sameKernel, symbolizer: symbolizer)
  }

  /// A resolver over `mappings` in the order they happened (the newest containing an address wins).
  public init(mappings: [Profile.Mapping], sameKernel: Bool = true, symbolizer: Symbolizer = Symbolizer()) {
    self.symbolizer = symbolizer
    self.sameKernel = sameKernel
    for m in mappings where m.pid != -1 { byPid[m.pid, default: []].append(m) }
  }

  /// Adds a mapping seen after the resolver was made (a live profiler captures them as processes appear).
  public func add(_ mapping: Profile.Mapping) {
    if mapping.pid != -1 { byPid[mapping.pid, default: []].append(mapping) }
  }

  /// Loads the binary at `path` now, while the path exists (e.g. under a process's /proc/PID/root, gone
  /// when it exits); later lookups of that mapping path use the loaded image.
  public func preload(_ path: String) { _ = image(path) }

  /// Releases the pages of the mapped binaries read since the last call (see `Symbolizer.releaseFilePages`).
  public func releaseFilePages() { symbolizer.releaseFilePages() }

  /// Forgets the mappings of processes that exited (a continuous profiler's long runs), and the images of
  /// binaries no remaining process maps, so memory follows the processes alive rather than all ever seen.
  public func forget(pids: Set<Int32>) {
    for pid in pids { byPid[pid] = nil }
    var mapped: Set<String> = []
    for mappings in byPid.values { for m in mappings { mapped.insert(m.path) } }
    images = images.filter { mapped.contains($0.key) }
  }

  /// Resolves one frame; return addresses are looked up one byte earlier so they land in the call.
  public func resolve(pid: Int32, address: UInt64, isKernel: Bool, isReturnAddress: Bool) -> ResolvedFrame {
    let lookup = isReturnAddress ? address &- 1 : address
    // The sample's context decides, as in perf: a kernel-looking address among user frames is a bad unwind
    // (or a JIT's), named [unknown] in [unknown] rather than after whichever kernel symbol is near it.
    if isKernel {
      guard sameKernel else {
        return ResolvedFrame(name: "[unknown]", module: "[kernel.kallsyms]", isKernel: true, moduleAddress: address)
      }
      let f = symbolizer.symbolizeKernel(lookup)
      let module = f.module.map { $0 == "[kernel]" ? "[kernel.kallsyms]" : $0 } ?? "[kernel.kallsyms]"
      return ResolvedFrame(
        name: f.status == .resolved ? f.name : "[unknown]", module: module, isKernel: true,
        symbolOffset: f.symbolOffset &+ (isReturnAddress ? 1 : 0), moduleAddress: address)
    }
    // The newest mapping containing the address wins (exec replaces earlier ones).
    guard let mapping = byPid[pid]?.last(where: { $0.start <= address && address < $0.end }) else {
      return ResolvedFrame(name: "[unknown]", module: "[unknown]", isKernel: false, moduleAddress: address)
    }
    let module = Self.shortName(mapping.path)
    let offset = lookup &- mapping.start &+ mapping.fileOffset
    // perf prints an unresolved frame at the sampled address itself (a return address, not the byte before).
    let printed = address &- mapping.start &+ mapping.fileOffset
    let loaded: (elf: ELFFile, symbols: SymbolTable)?
    if mapping.path == "[vdso]" {
      loaded = vdso
    } else {
      loaded = mapping.path.hasPrefix("/") ? image(mapping.path).map { ($0.elf, $0.symbols) } : nil
    }
    guard let image = loaded else {
      return ResolvedFrame(
        name: "[unknown]", module: module, isKernel: false, path: mapping.path, moduleAddress: printed)
    }
    guard let vaddr = image.elf.virtualAddress(forFileOffset: offset), let symbol = image.symbols.lookupAsPerf(vaddr)
    else {
      return ResolvedFrame(
        name: "[unknown]", module: module, isKernel: false, path: mapping.path, moduleAddress: printed)
    }
    let adjust: UInt64 = isReturnAddress ? 1 : 0
    return ResolvedFrame(
      name: demangler.perfName(symbol.name), module: module, isKernel: false,
      symbolOffset: (vaddr &- symbol.address) &+ adjust, path: mapping.path, moduleAddress: vaddr &+ adjust)
  }

  /// The build-ids of the binaries loaded so far, by mapping path (binaries are loaded as frames in them
  /// are resolved, so these cover every module a resolved profile names).
  public var loadedBuildIDs: [String: [UInt8]] {
    var ids: [String: [UInt8]] = [:]
    for case let (path, image?) in images { if let id = image.elf.buildID { ids[path] = id } }
    return ids
  }

  private func image(_ path: String) -> LoadedImage? {
    if let cached = images[path] { return cached }
    let loaded = try? symbolizer.loadFile(path)
    images[path] = loaded
    return loaded
  }

  /// The vDSO is the same image in every process of one kernel: read this process's copy.
  static func loadOwnVDSO() -> (elf: ELFFile, symbols: SymbolTable)? {
    guard let maps = try? ProcessMaps.read(pid: getpid()),
      let vdso = maps.mappings.first(where: { $0.kind == .vdso }), vdso.end > vdso.start,
      let pointer = UnsafeRawPointer(bitPattern: UInt(vdso.start))
    else { return nil }
    let bytes = UnsafeRawBufferPointer(start: pointer, count: Int(vdso.end - vdso.start))
    guard let elf = try? ELFFile(bytes: Array(bytes), path: "[vdso]") else { return nil }
    return (elf, elf.symbolTable())
  }

  static func shortName(_ path: String) -> String {
    if path.hasPrefix("[") { return path }
    return path.split(separator: "/").last.map(String.init) ?? path
  }
}
