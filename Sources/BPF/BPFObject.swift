import CLibbpf
import PerfEvents
import Synchronization
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A loaded BPF object: its programs and maps are live in the kernel. Made by `OpenBPFObject.load()`; there
/// is no way back to configuring it (constants, map sizes and which programs load are set on the open
/// object, before), so configuring after load does not compile.
///
/// Closing the object (explicitly or on deinit) detaches every link made from its programs and releases
/// every program and map, so nothing of Sonde's stays in the kernel.
public final class BPFObject: @unchecked Sendable {
  /// Options for `OpenBPFObject.load()`.
  public struct LoadOptions: Sendable {
    /// Bytes of verifier log kept per program when a load fails.
    public var logSize: Int = 1 << 20
    /// How many trailing verifier lines a rejection error shows; nil shows the whole log.
    public var verifierLines: Int? = 20
    public init(logSize: Int = 1 << 20, verifierLines: Int? = 20) {
      self.logSize = logSize
      self.verifierLines = verifierLines
    }
  }

  /// The object name (used in error messages; libbpf prefixes map names with it).
  public let name: String
  private let state: Mutex<State>

  struct State: @unchecked Sendable {  // the libbpf handle is only used under the lock
    var handle: OpaquePointer?
    var links: [WeakLink] = []
  }

  struct WeakLink { weak var link: BPFLink? }

  /// The ELF bytes libbpf parsed in place; kept alive as long as the object.
  private let image: UnsafeMutableRawBufferPointer

  /// Takes over a loaded libbpf object and the bytes it was opened from.
  init(loaded handle: OpaquePointer, image: UnsafeMutableRawBufferPointer, name: String) {
    self.name = name
    self.image = image
    state = Mutex(State(handle: handle))
  }

  deinit {
    close()
    image.deallocate()
  }

  /// Detaches every link made from this object's programs, then unloads its programs and maps.
  public func close() {
    let (handle, links) = state.withLock { state -> (OpaquePointer?, [WeakLink]) in
      let result = (state.handle, state.links)
      state.handle = nil
      state.links = []
      return result
    }
    for entry in links { entry.link?.close() }
    if let handle { bpf_object__close(handle) }
  }

  /// Whether the object is still loaded (not closed).
  public var isLoaded: Bool { state.withLock { $0.handle != nil } }

  func withHandle<R>(_ operation: String, _ body: (OpaquePointer) throws(SondeError) -> R) throws(SondeError) -> R {
    guard let handle = state.withLock({ $0.handle }) else {
      throw SondeError.invalid(operation, "the BPF object \(name) is closed")
    }
    return try body(handle)
  }

  func register(_ link: BPFLink) {
    state.withLock { state in
      state.links.removeAll { $0.link == nil }
      state.links.append(WeakLink(link: link))
    }
  }

  // MARK: Programs and maps

  /// Names of the object's programs (the C function names).
  public var programNames: [String] { (try? withHandle("list programs") { Self.programNames(of: $0) }) ?? [] }

  /// Names of the object's maps, as libbpf names them (`.rodata`/`.bss` maps carry the object name).
  public var mapNames: [String] { (try? withHandle("list maps") { Self.mapNames(of: $0) }) ?? [] }

  /// The program names of a libbpf object (open or loaded).
  static func programNames(of handle: OpaquePointer) -> [String] {
    var names: [String] = []
    var prog = bpf_object__next_program(handle, nil)
    while let current = prog {
      names.append(String(cString: bpf_program__name(current)))
      prog = bpf_object__next_program(handle, current)
    }
    return names
  }

  /// The map names of a libbpf object (open or loaded).
  static func mapNames(of handle: OpaquePointer) -> [String] {
    var names: [String] = []
    var map = bpf_object__next_map(handle, nil)
    while let current = map {
      names.append(String(cString: bpf_map__name(current)))
      map = bpf_object__next_map(handle, current)
    }
    return names
  }

  /// The program with this (C function) name.
  public func program(_ name: String) throws(SondeError) -> BPFProgram {
    try withHandle("find program \(name)") { handle throws(SondeError) in
      guard let prog = bpf_object__find_program_by_name(handle, name) else {
        throw SondeError.invalid(
          "find program \(name)", "the BPF object \(self.name) has no program '\(name)'",
          remedy: "programs: \(programNames.joined(separator: ", "))")
      }
      return BPFProgram(object: self, handle: prog)
    }
  }

  func mapHandle(_ name: String) throws(SondeError) -> OpaquePointer {
    try withHandle("find map \(name)") { handle throws(SondeError) in
      guard let map = bpf_object__find_map_by_name(handle, name) else {
        throw SondeError.invalid(
          "find map \(name)", "the BPF object \(self.name) has no map '\(name)'",
          remedy: "maps: \(mapNames.joined(separator: ", "))")
      }
      return map
    }
  }

  /// The map with this name, typed. The key and value types must have the map's key and value sizes.
  public func map<Key: BitwiseCopyable, Value: BitwiseCopyable>(
    _ name: String, key: Key.Type = Key.self, value: Value.Type = Value.self
  ) throws(SondeError) -> BPFMap<Key, Value> {
    try BPFMap(object: self, handle: mapHandle(name), name: name)
  }
}
