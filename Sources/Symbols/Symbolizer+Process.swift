#if canImport(Glibc)
  import Glibc
#endif
import SondeSystem

/// Processes: runtime addresses through /proc/PID/maps, recorded mappings, the vDSO and JIT maps.
extension Symbolizer {
  // MARK: Processes

  /// Symbolizes runtime addresses of process `pid`. Kernel-space addresses are looked up in kallsyms.
  /// The result has one frame per address, in order; unknown addresses are `[unknown]` frames, not dropped.
  public func symbolize(pid: Int32, addresses: [UInt64]) -> [SymbolizedFrame] {
    var entry: ProcessEntry? = try? process(pid, refresh: false)
    var refreshed = false
    return addresses.map { address in
      if Symbolizer.isKernelAddress(address) { return symbolizeKernel(address) }
      guard let (found, mapping) = mapping(pid, address, in: entry, refreshed: &refreshed) else {
        return SymbolizedFrame(address: address, status: .unmapped)
      }
      entry = found
      return frame(address: address, mapping: mapping, pid: pid, vdso: found.vdso, perfMap: found.perfMap, entry: found)
    }
  }

  /// The mapping of `pid` that holds code address `address`, from the cached maps `entry`, re-read once
  /// (`refreshed` says whether it was) when they have none there or only a non-executable one: the process
  /// may have mapped something since they were cached, possibly where it had unmapped other memory.
  private func mapping(
    _ pid: Int32, _ address: UInt64, in entry: ProcessEntry?, refreshed: inout Bool
  ) -> (ProcessEntry, MemoryMapping)? {
    var entry = entry
    var mapping = entry?.maps.mapping(containing: address)
    if mapping?.isExecutable != true && !refreshed {
      refreshed = true
      entry = try? process(pid, refresh: true)
      mapping = entry?.maps.mapping(containing: address)
    }
    guard let entry, let mapping else { return nil }
    return (entry, mapping)
  }

  /// One address of process `pid`.
  public func symbolize(pid: Int32, address: UInt64) -> SymbolizedFrame {
    symbolize(pid: pid, addresses: [address])[0]
  }

  /// Drops the cached maps of `pid` (call when the process exits or execs).
  public func forget(pid: Int32) { state.withLock { $0.processes.remove(pid) } }

  /// The cached (or freshly read) maps and per-process images of `pid`.
  public func maps(pid: Int32) throws(SondeError) -> ProcessMaps { try process(pid, refresh: false).maps }

  func process(_ pid: Int32, refresh: Bool) throws(SondeError) -> ProcessEntry {
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
    var refreshed = false
    guard let (entry, mapping) = mapping(pid, address, in: try? process(pid, refresh: false), refreshed: &refreshed)
    else { return nil }
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

  func frame(
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
  func loadVDSO(pid: Int32, mapping: MemoryMapping) -> LoadedImage? {
    guard mapping.end > mapping.start, mapping.end - mapping.start <= 1 << 20,
      let bytes = readProcessMemory(pid: pid, address: mapping.start, count: Int(mapping.end - mapping.start)),
      let elf = try? ELFFile(bytes: bytes, path: "[vdso]")
    else { return nil }
    let key = "vdso:" + (elf.buildIDHex ?? String(elf.store.crc32(), radix: 16))
    if let image = cachedImage(key) { return image }
    return intern(elf: elf, key: key, locator: nil, targetPath: "[vdso]")
  }
}
