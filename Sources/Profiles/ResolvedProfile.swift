/// A symbolized frame: what exporters print.
public struct ResolvedFrame: Sendable, Hashable {
  /// Function name, or `[unknown]`.
  public var name: String
  /// Module (shared object) short name, e.g. `libc.so.6`, `[kernel.kallsyms]`.
  public var module: String
  public var isKernel: Bool
  /// Address minus the symbol's start (0 when unknown).
  public var symbolOffset: UInt64
  /// The module's full path (or bracketed name), for perf-script style output.
  public var path: String
  /// The address relative to the module (ELF virtual address), or the raw address when unmapped.
  public var moduleAddress: UInt64
  public init(
    name: String, module: String, isKernel: Bool, symbolOffset: UInt64 = 0, path: String = "",
    moduleAddress: UInt64 = 0
  ) {
    self.name = name
    self.module = module
    self.isKernel = isKernel
    self.symbolOffset = symbolOffset
    self.path = path.isEmpty ? module : path
    self.moduleAddress = moduleAddress
  }
}

/// A profile whose stacks are symbolized: each sample group as root-first frames plus its thread.
/// Exporters (folded, flame graph, text report) consume this.
public struct ResolvedProfile: Sendable {
  public struct Sample: Sendable {
    public var thread: Profile.Thread
    /// Root (outermost caller) first, leaf last.
    public var frames: [ResolvedFrame]
    public var count: UInt64
    public var weight: UInt64
  }
  public var samples: [Sample]
  public var source: Profile

  /// Resolves every distinct (pid, address) once. `resolve(pid, address, isKernel, isReturnAddress)`;
  /// non-leaf frames are return addresses (look up address - 1 to land inside the call).
  public init(_ profile: Profile, resolve: (Int32, UInt64, Bool, Bool) -> ResolvedFrame) {
    source = profile
    struct Key: Hashable {
      var pid: Int32
      var address: UInt64
      var kernel: Bool
      var returnAddress: Bool
    }
    var cache: [Key: ResolvedFrame] = [:]
    func frame(_ k: Key) -> ResolvedFrame {
      if let f = cache[k] { return f }
      let f = resolve(k.pid, k.address, k.kernel, k.returnAddress)
      cache[k] = f
      return f
    }
    var stackCache: [Int: [Int32: [ResolvedFrame]]] = [:]
    samples = profile.entries.map { entry in
      let thread = profile.threads[entry.thread]
      let frames: [ResolvedFrame]
      if let f = stackCache[entry.stack]?[thread.pid] {
        frames = f
      } else {
        let stack = profile.stacks[entry.stack]
        var leafFirst: [ResolvedFrame] = []
        for (i, a) in stack.kernel.enumerated() {
          leafFirst.append(frame(Key(pid: thread.pid, address: a, kernel: true, returnAddress: i > 0)))
        }
        for (i, a) in stack.user.enumerated() {
          leafFirst.append(frame(Key(pid: thread.pid, address: a, kernel: false, returnAddress: i > 0)))
        }
        frames = leafFirst.reversed()
        stackCache[entry.stack, default: [:]][thread.pid] = frames
      }
      return Sample(thread: thread, frames: frames, count: entry.count, weight: entry.weight)
    }
  }
}
