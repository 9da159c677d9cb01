#if canImport(Glibc)
  import Glibc
#endif
import PerfEvents

/// The symbolization service: turns batches of (pid, address) and kernel addresses into `SymbolizedFrame`s.
///
/// Everything expensive is cached: process maps per pid, loaded images keyed by device+inode (and deduplicated
/// by build-id, so the same library seen in several processes or containers is decoded once), the kernel
/// symbol table, and demangled names. Image and process caches are LRU-bounded. All methods are safe to call
/// from concurrent tasks; loading happens outside the cache lock, so one slow file does not block others.
public final class Symbolizer: Sendable {
  /// Tuning knobs.
  public struct Options: Sendable {
    /// Most loaded images kept (each holds a mapping and a decoded symbol table).
    public var maxCachedImages: Int = 256
    /// Approximate bound on the memory of decoded symbol tables across cached images, in bytes.
    public var maxCachedSymbolBytes: Int = 512 << 20
    /// Most processes whose maps are kept.
    public var maxCachedProcesses: Int = 64
    /// Demangle names (nil `demangled` when off).
    public var demangle: Bool = true
    /// Options for the demangler.
    public var demangler = Demangler()
    /// Look for separate debug files (build-id, debuglink) for stripped images.
    public var useDebugFiles: Bool = true
    /// Global debug directories.
    public var debugRoots: [String] = ["/usr/lib/debug"]

    public init() {}
  }

  /// Process-level cached state.
  final class ProcessEntry: Sendable {
    let maps: ProcessMaps
    let perfMap: PerfMap?
    /// The vDSO image read out of the process, when it has one.
    let vdso: LoadedImage?
    /// Images already resolved for this process's mappings, by mapping start (skips key building per address).
    let mapped = Locked<[UInt64: LoadedImage]>([:])
    init(maps: ProcessMaps, perfMap: PerfMap?, vdso: LoadedImage?) {
      self.maps = maps
      self.perfMap = perfMap
      self.vdso = vdso
    }
  }

  struct State {
    /// Loaded images by identity: `build:<hex>` when the image has a build-id, else its file key. This is the
    /// LRU that bounds memory.
    var images: LRUCache<String, LoadedImage>
    /// File keys (device, inode, path, …) → image identity, so a second path to the same binary is not reloaded.
    var aliases: LRUCache<String, String>
    var processes: LRUCache<Int32, ProcessEntry>
    var kernel: KernelSymbols?
  }

  public let options: Options
  private let state: Locked<State>
  private let kernelLoad = Locked<Void>(())

  public init(options: Options = Options()) {
    self.options = options
    state = Locked(
      State(
        images: LRUCache(capacity: options.maxCachedImages, maxCost: options.maxCachedSymbolBytes),
        aliases: LRUCache(capacity: options.maxCachedImages * 8),
        processes: LRUCache(capacity: options.maxCachedProcesses), kernel: nil))
  }

  private var demangler: Demangler? { options.demangle ? options.demangler : nil }

  /// How many images the cache holds (bounded by `Options.maxCachedImages`).
  public var cachedImageCount: Int { state.withLock { $0.images.count } }

  /// The approximate bytes of symbol tables the cache holds (bounded by `Options.maxCachedSymbolBytes`).
  public var cachedSymbolBytes: Int { state.withLock { $0.images.totalCost } }

  /// The cached image for a file key, if its identity is still cached.
  private func cachedImage(_ key: String) -> LoadedImage? {
    state.withLock { state in
      guard let id = state.aliases.get(key) else { return nil }
      return state.images.get(id)
    }
  }

  // MARK: Files

  /// Symbolizes ELF virtual addresses of the binary at `path` (what `addr2line -f -e` takes).
  public func symbolize(file path: String, addresses: [UInt64]) throws(SondeError) -> [SymbolizedFrame] {
    let image = try loadFile(path)
    return addresses.map { image.frame(address: $0, vaddr: $0, module: path, deleted: false, demangler: demangler) }
  }

  /// The loaded image for a path on this machine, cached by device, inode, size and mtime.
  public func loadFile(_ path: String) throws(SondeError) -> LoadedImage {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let code = errno
      throw SondeError(
        code == ENOENT ? .invalidInput : .system, operation: "stat(\(path))", errno: code,
        reason: errnoDescription(code))
    }
    let key = "file:\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    if let image = cachedImage(key) { return image }
    let elf = try ELFFile.open(path: path)
    return intern(elf: elf, key: key, locator: locator(rootPrefix: ""), targetPath: path)
  }

  private func locator(rootPrefix: String) -> DebugFileLocator? {
    options.useDebugFiles ? DebugFileLocator(debugRoots: options.debugRoots, rootPrefix: rootPrefix) : nil
  }

  /// Stores a freshly opened image, reusing an already loaded one with the same build-id.
  private func intern(elf: ELFFile, key: String, locator: DebugFileLocator?, targetPath: String) -> LoadedImage {
    let id = elf.buildIDHex.map { "build:" + $0 } ?? key
    if let existing = state.withLock({ state -> LoadedImage? in
      guard let image = state.images.get(id) else { return nil }
      state.aliases.set(key, id)
      return image
    }) {
      return existing
    }
    let image = LoadedImage(elf: elf, locator: locator, targetPath: targetPath)
    state.withLock { state in
      state.images.set(id, image, cost: image.approximateBytes)
      state.aliases.set(key, id)
    }
    return image
  }

  // MARK: Processes

  /// Symbolizes runtime addresses of process `pid`. Kernel-space addresses are looked up in kallsyms.
  /// The result has one frame per address, in order; unknown addresses are `[unknown]` frames, not dropped.
  public func symbolize(pid: Int32, addresses: [UInt64]) -> [SymbolizedFrame] {
    var entry: ProcessEntry? = try? process(pid, refresh: false)
    var refreshed = false
    return addresses.map { address in
      if Symbolizer.isKernelAddress(address) { return symbolizeKernel(address) }
      var mapping = entry?.maps.mapping(containing: address)
      if mapping == nil && !refreshed {
        // The process may have mapped something since its maps were cached.
        refreshed = true
        entry = try? process(pid, refresh: true)
        mapping = entry?.maps.mapping(containing: address)
      }
      guard let entry, let mapping else { return SymbolizedFrame(address: address, status: .unmapped) }
      return frame(address: address, mapping: mapping, pid: pid, vdso: entry.vdso, perfMap: entry.perfMap, entry: entry)
    }
  }

  /// One address of process `pid`.
  public func symbolize(pid: Int32, address: UInt64) -> SymbolizedFrame {
    symbolize(pid: pid, addresses: [address])[0]
  }

  /// Drops the cached maps of `pid` (call when the process exits or execs).
  public func forget(pid: Int32) { state.withLock { $0.processes.remove(pid) } }

  /// The cached (or freshly read) maps and per-process images of `pid`.
  public func maps(pid: Int32) throws(SondeError) -> ProcessMaps { try process(pid, refresh: false).maps }

  private func process(_ pid: Int32, refresh: Bool) throws(SondeError) -> ProcessEntry {
    if !refresh, let entry = state.withLock({ $0.processes.get(pid) }) { return entry }
    let maps = try ProcessMaps.read(pid: pid)
    let perfMap = maps.mappings.contains { $0.kind == .anonymous && $0.isExecutable } ? PerfMap.load(pid: pid) : nil
    var vdso: LoadedImage?
    if let mapping = maps.mappings.first(where: { $0.kind == .vdso }) { vdso = loadVDSO(pid: pid, mapping: mapping) }
    let entry = ProcessEntry(maps: maps, perfMap: perfMap, vdso: vdso)
    state.withLock { _ = $0.processes.set(pid, entry) }
    return entry
  }

  /// Symbolizes an address using a mapping the caller already knows — e.g. from a perf.data MMAP2 record —
  /// instead of the live `/proc/PID/maps`.
  ///
  /// With a `pid` whose process still runs, the file is opened as that process sees it (its root, or the mapped
  /// inode itself); otherwise by its path on this machine, accepted only if the inode matches (when known).
  /// The vDSO image is the process's if it runs, else this process's (the same kernel maps the same vDSO).
  public func symbolize(address: UInt64, in mapping: MemoryMapping, pid: Int32? = nil) -> SymbolizedFrame {
    if Symbolizer.isKernelAddress(address) { return symbolizeKernel(address) }
    let entry = pid.flatMap { try? process($0, refresh: false) }
    var vdso = entry?.vdso
    if mapping.kind == .vdso && vdso == nil { vdso = (try? process(getpid(), refresh: false))?.vdso }
    var perfMap = entry?.perfMap
    if mapping.kind == .anonymous && perfMap == nil, let pid { perfMap = PerfMap.load(pid: pid) }
    return frame(address: address, mapping: mapping, pid: entry == nil ? nil : pid, vdso: vdso, perfMap: perfMap)
  }

  /// Where a runtime address of a process lands: its mapping, the offset into the mapped file, and the ELF
  /// virtual address (the address symbol tables and uprobes use), honouring the mapping offset and load bias.
  public struct AddressResolution: Sendable {
    public var mapping: MemoryMapping
    /// `address - mapping.start + mapping.offset`.
    public var fileOffset: UInt64
    /// The ELF virtual address, when the mapping is an ELF file (or the vDSO) that could be opened.
    public var elfAddress: UInt64?
  }

  /// Resolves a runtime address of `pid` to its file offset and ELF virtual address, or nil if unmapped.
  public func resolve(pid: Int32, address: UInt64) -> AddressResolution? {
    var entry = try? process(pid, refresh: false)
    if entry?.maps.mapping(containing: address) == nil { entry = try? process(pid, refresh: true) }
    guard let entry, let mapping = entry.maps.mapping(containing: address) else { return nil }
    let offset = mapping.fileOffset(of: address)
    switch mapping.kind {
    case .file:
      let image = try? loadMapped(pid: pid, mapping: mapping)
      return AddressResolution(
        mapping: mapping, fileOffset: offset,
        elfAddress: image?.elf.virtualAddress(forFileOffset: offset, in: mapping))
    case .vdso:
      return AddressResolution(
        mapping: mapping, fileOffset: offset, elfAddress: entry.vdso?.elf.virtualAddress(forFileOffset: offset))
    default:
      return AddressResolution(mapping: mapping, fileOffset: offset, elfAddress: nil)
    }
  }

  private func frame(
    address: UInt64, mapping: MemoryMapping, pid: Int32?, vdso: LoadedImage?, perfMap: PerfMap?,
    entry: ProcessEntry? = nil
  ) -> SymbolizedFrame {
    switch mapping.kind {
    case .file:
      let image: LoadedImage
      do {
        if let cached = entry?.mapped.withLock({ $0[mapping.start] }) {
          image = cached
        } else {
          image = try loadMapped(pid: pid, mapping: mapping)
          entry?.mapped.withLock { $0[mapping.start] = image }
        }
      } catch {
        return SymbolizedFrame(
          address: address, status: .moduleUnreadable, module: mapping.path,
          moduleOffset: mapping.fileOffset(of: address), moduleDeleted: mapping.isDeleted, detail: error.reason)
      }
      let offset = mapping.fileOffset(of: address)
      guard let vaddr = image.elf.virtualAddress(forFileOffset: offset, in: mapping) else {
        return SymbolizedFrame(
          address: address, status: .noSymbol, module: mapping.path, moduleOffset: offset,
          moduleDeleted: mapping.isDeleted, buildID: image.elf.buildIDHex)
      }
      return image.frame(
        address: address, vaddr: vaddr, module: mapping.path, deleted: mapping.isDeleted, demangler: demangler)
    case .vdso:
      let offset = address - mapping.start
      guard let image = vdso, let vaddr = image.elf.virtualAddress(forFileOffset: offset) else {
        return SymbolizedFrame(address: address, status: .noSymbol, module: "[vdso]", moduleOffset: offset)
      }
      return image.frame(address: address, vaddr: vaddr, module: "[vdso]", deleted: false, demangler: demangler)
    case .anonymous:
      if let jit = perfMap?.lookup(address) {
        return SymbolizedFrame(
          address: address, status: .resolved, symbol: jit.name,
          demangled: demangler?.demangle(jit.name), symbolOffset: address - jit.start,
          module: "/tmp/perf-\(pid ?? 0).map", moduleOffset: address - mapping.start)
      }
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: "[anon]", moduleOffset: address - mapping.start)
    case .heap:
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: "[heap]", moduleOffset: address - mapping.start)
    case .stack:
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: "[stack]", moduleOffset: address - mapping.start)
    case .vvar:
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: "[vvar]", moduleOffset: address - mapping.start)
    case .vsyscall:
      return SymbolizedFrame(
        address: address, status: .noSymbol, module: "[vsyscall]", moduleOffset: address - mapping.start)
    case .special(let name):
      return SymbolizedFrame(address: address, status: .noSymbol, module: name, moduleOffset: address - mapping.start)
    }
  }

  /// Opens the file behind a mapping as the target process sees it.
  ///
  /// Tries `/proc/PID/root/<path>` (so binaries inside containers resolve) when the file there still has the
  /// mapped inode; otherwise `/proc/PID/map_files/<start>-<end>`, which refers to the mapped inode itself and
  /// so still works for deleted or replaced binaries. Without a pid (or when the process is gone), the path on
  /// this machine is used if its inode matches the mapping's (or the mapping has none).
  func loadMapped(pid: Int32?, mapping: MemoryMapping) throws(SondeError) -> LoadedImage {
    let key = "map:\(mapping.device):\(mapping.inode):\(mapping.path)"
    if let image = cachedImage(key) { return image }
    var rootPrefix = ""
    var candidates: [String] = []
    var info = stat()
    if let pid {
      rootPrefix = "/proc/\(pid)/root"
      let rooted = rootPrefix + mapping.path
      if !mapping.isDeleted, stat(rooted, &info) == 0, UInt64(info.st_ino) == mapping.inode {
        candidates.append(rooted)
      }
      let range = String(mapping.start, radix: 16) + "-" + String(mapping.end, radix: 16)
      candidates.append("/proc/\(pid)/map_files/\(range)")
      if !mapping.isDeleted && !candidates.contains(rooted) { candidates.append(rooted) }
    }
    if stat(mapping.path, &info) == 0,
      mapping.inode == 0 || (UInt64(info.st_ino) == mapping.inode && sameDevice(mapping.device, UInt64(info.st_dev)))
    {
      candidates.append(mapping.path)
    }
    var lastError = SondeError(.system, operation: "open \(mapping.path)", reason: "no candidate path")
    for path in candidates {
      do {
        let elf = try ELFFile.open(path: path)
        return intern(elf: elf, key: key, locator: locator(rootPrefix: rootPrefix), targetPath: mapping.path)
      } catch {
        lastError = error
      }
    }
    throw lastError
  }

  /// Reads the vDSO image out of the process (`/proc/PID/mem`) and loads it, deduplicated by build-id.
  private func loadVDSO(pid: Int32, mapping: MemoryMapping) -> LoadedImage? {
    guard mapping.end > mapping.start, mapping.end - mapping.start <= 1 << 20,
      let bytes = readProcessMemory(pid: pid, address: mapping.start, count: Int(mapping.end - mapping.start)),
      let elf = try? ELFFile(bytes: bytes, path: "[vdso]")
    else { return nil }
    let key = "vdso:" + (elf.buildIDHex ?? String(elf.store.crc32(), radix: 16))
    if let image = cachedImage(key) { return image }
    return intern(elf: elf, key: key, locator: nil, targetPath: "[vdso]")
  }

  // MARK: Kernel

  /// Whether an x86-64 address is in the kernel half of the address space.
  public static func isKernelAddress(_ address: UInt64) -> Bool { address >= 0xffff_8000_0000_0000 }

  /// The kernel symbol table (loaded from /proc/kallsyms once).
  public func kernelSymbols() throws(SondeError) -> KernelSymbols {
    if let kernel = state.withLock({ $0.kernel }) { return kernel }
    let result: Result<KernelSymbols, SondeError> = kernelLoad.withLock { _ in
      if let kernel = state.withLock({ $0.kernel }) { return .success(kernel) }
      do throws(SondeError) {
        let kernel = try KernelSymbols.load()
        state.withLock { $0.kernel = kernel }
        return .success(kernel)
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  /// Symbolizes kernel addresses with kallsyms.
  public func symbolizeKernel(addresses: [UInt64]) -> [SymbolizedFrame] { addresses.map(symbolizeKernel) }

  /// One kernel address.
  public func symbolizeKernel(_ address: UInt64) -> SymbolizedFrame {
    guard let kernel = try? kernelSymbols() else {
      return SymbolizedFrame(
        address: address, status: .moduleUnreadable, module: "[kernel.kallsyms]", moduleOffset: address,
        detail: "cannot read /proc/kallsyms")
    }
    guard let (symbol, offset) = kernel.lookup(address) else {
      return SymbolizedFrame(address: address, status: .unmapped, module: "[kernel.kallsyms]", moduleOffset: address)
    }
    let module = symbol.module.map { "[\($0)]" } ?? "[kernel.kallsyms]"
    return SymbolizedFrame(
      address: address, status: .resolved, symbol: symbol.name, demangled: nil, symbolOffset: offset, module: module,
      moduleOffset: address)
  }
}

/// Whether a maps-style `major:minor` (hex) device names the stat `st_dev` (glibc's makedev encoding).
/// An unknown (`00:00` or unparsable) device matches anything.
func sameDevice(_ device: String, _ dev: UInt64) -> Bool {
  let parts = device.split(separator: ":")
  guard parts.count == 2, let major = UInt64(parts[0], radix: 16), let minor = UInt64(parts[1], radix: 16),
    major != 0 || minor != 0
  else { return true }
  let encoded = ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
  return encoded == dev
}

/// Reads `count` bytes at `address` of process `pid` through `/proc/PID/mem` (needs ptrace access).
func readProcessMemory(pid: Int32, address: UInt64, count: Int) -> [UInt8]? {
  let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var buffer = [UInt8](repeating: 0, count: count)
  var done = 0
  while done < count {
    let position = Int(bitPattern: UInt(address)) &+ done
    let n = buffer.withUnsafeMutableBytes { raw -> Int in
      guard let base = raw.baseAddress else { return -1 }
      return pread(fd, base + done, count - done, position)
    }
    if n < 0 && errno == EINTR { continue }
    guard n > 0 else { return nil }
    done += n
  }
  return buffer
}
