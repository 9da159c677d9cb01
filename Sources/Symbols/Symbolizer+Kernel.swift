import SondeSystem

/// Kernel addresses through /proc/kallsyms.
extension Symbolizer {
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

  /// Starts loading the kernel symbol table on a thread of its own and returns it (`stop()` joins it): a
  /// report reads its perf.data file meanwhile, so /proc/kallsyms, a hundred thousand lines the kernel
  /// formats on every read, costs no wall time. Lookups that come first simply wait for the load.
  public func prefetchKernelSymbols() -> BlockingThread {
    BlockingThread { [self] _ in _ = try? kernelSymbols() }
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
