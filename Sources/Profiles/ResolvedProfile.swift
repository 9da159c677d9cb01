/// A symbolized location: what exporters print.
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

/// A function of a module: what report rows, call graph nodes and folded frames group by.
public struct ResolvedFunction: Sendable, Hashable {
  public var name: String
  public var module: String
  public var isKernel: Bool
}

/// A profile with every location symbolized once: the frame of each location, the distinct functions, and
/// which function each location is in. Exporters read these tables and the source profile's stacks; the
/// per-sample `samples` view exists for tests and small tools.
public struct ResolvedProfile: Sendable {
  public let source: Profile
  /// The frame of each location of `source` (same index).
  public let frames: [ResolvedFrame]
  /// Distinct (name, module, kernel) triples.
  public let functions: [ResolvedFunction]
  /// The function of each location (index into `functions`).
  public let functionOfLocation: [Int32]
  /// Distinct command names, and each thread's (index into `comms`).
  public let comms: [String]
  public let commOfThread: [Int32]

  /// Resolves every location once: `resolve(pid, address, isKernel, isReturnAddress)`, where pid is -1 for
  /// kernel locations. Return addresses are looked up one byte earlier by real resolvers, to land in the call.
  public init(_ profile: Profile, resolve: (Int32, UInt64, Bool, Bool) -> ResolvedFrame) {
    source = profile
    var frames: [ResolvedFrame] = []
    frames.reserveCapacity(profile.locations.count)
    var functions: [ResolvedFunction] = []
    var functionIndex: [ResolvedFunction: Int32] = [:]
    var functionOfLocation: [Int32] = []
    functionOfLocation.reserveCapacity(profile.locations.count)
    for l in profile.locations {
      let frame = resolve(l.pid, l.address, l.isKernel, l.isReturnAddress)
      let function = ResolvedFunction(name: frame.name, module: frame.module, isKernel: frame.isKernel)
      if let id = functionIndex[function] {
        functionOfLocation.append(id)
      } else {
        let id = Int32(functions.count)
        functions.append(function)
        functionIndex[function] = id
        functionOfLocation.append(id)
      }
      frames.append(frame)
    }
    var comms: [String] = []
    var commIndex: [String: Int32] = [:]
    var commOfThread: [Int32] = []
    for t in profile.threads {
      if let id = commIndex[t.comm] {
        commOfThread.append(id)
      } else {
        commIndex[t.comm] = Int32(comms.count)
        commOfThread.append(Int32(comms.count))
        comms.append(t.comm)
      }
    }
    self.frames = frames
    self.functions = functions
    self.functionOfLocation = functionOfLocation
    self.comms = comms
    self.commOfThread = commOfThread
  }

  /// One entry's samples with their frames root first: a convenience view that allocates per entry.
  public struct Sample: Sendable {
    public var thread: Profile.Thread
    /// Root (outermost caller) first, leaf last.
    public var frames: [ResolvedFrame]
    public var count: UInt64
    public var weight: UInt64
  }

  /// Every entry as a `Sample` (allocates; exporters read the tables instead).
  public var samples: [Sample] {
    source.entries.map { entry in
      Sample(
        thread: source.threads[entry.thread], frames: source.stack(entry.stack).reversed().map { frames[Int($0)] },
        count: entry.count, weight: entry.weight)
    }
  }
}
