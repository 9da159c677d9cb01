#if canImport(Glibc)
  import Glibc
#endif
import SondeSystem

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
  let state: Locked<State>
  let kernelLoad = Locked<Void>(())

  public init(options: Options = Options()) {
    self.options = options
    state = Locked(
      State(
        images: LRUCache(capacity: options.maxCachedImages, maxCost: options.maxCachedSymbolBytes),
        aliases: LRUCache(capacity: options.maxCachedImages * 8),
        processes: LRUCache(capacity: options.maxCachedProcesses), kernel: nil))
  }

  var demangler: Demangler? { options.demangle ? options.demangler : nil }

  /// How many images the cache holds (bounded by `Options.maxCachedImages`).
  public var cachedImageCount: Int { state.withLock { $0.images.count } }

  /// The approximate bytes of symbol tables the cache holds (bounded by `Options.maxCachedSymbolBytes`).
  public var cachedSymbolBytes: Int { state.withLock { $0.images.totalCost } }

  /// Releases the pages of the mapped binaries the cached images read since the last call, loading them or
  /// naming frames (a continuous profiler calls this after each window: the names it needed are cached
  /// as strings by then).
  public func releaseFilePages() {
    for image in state.withLock({ $0.images.values }) { image.releaseFilePages() }
  }

  /// The cached image for a file key, if its identity is still cached.
  func cachedImage(_ key: String) -> LoadedImage? {
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

  func locator(rootPrefix: String) -> DebugFileLocator? {
    options.useDebugFiles ? DebugFileLocator(debugRoots: options.debugRoots, rootPrefix: rootPrefix) : nil
  }

  /// Stores a freshly opened image, reusing an already loaded one with the same build-id.
  func intern(elf: ELFFile, key: String, locator: DebugFileLocator?, targetPath: String) -> LoadedImage {
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
}
