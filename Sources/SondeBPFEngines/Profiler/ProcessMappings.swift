import Profiles
import SondeCore
import SondeSystem
import Symbols

#if canImport(Glibc)
  import Glibc
#endif

/// The executable mappings of every process the profiler has seen, captured while the process is alive
/// (when the BPF program announces it, again after an exec or a new executable mapping), so its samples
/// symbolize after it exits. A process in another mount namespace is read through `/proc/PID/root`, and its
/// binaries are loaded at capture time, while that path still exists.
final class ProcessMappings {
  private(set) var mappings: [Profile.Mapping] = []
  private var known: Set<Profile.Mapping> = []
  /// Processes whose mappings were read at least once.
  private(set) var captured: Set<Int32> = []
  private var withMappings: Set<Int32> = []
  /// The resolver that symbolizes the profile at the end; binaries of other namespaces are preloaded into it.
  let resolver: FileSymbolResolver
  private let ownRoot: FileIdentity?
  private let ownMountNamespace: FileIdentity?

  init(resolver: FileSymbolResolver) {
    self.resolver = resolver
    ownRoot = FileIdentity(path: "/proc/self/root")
    ownMountNamespace = FileIdentity(path: "/proc/self/ns/mnt")
  }

  /// Adds a mapping learned otherwise (an MMAP2 record of the perf ring). Its path is the process's own
  /// view: one of another mount namespace is read through /proc/PID/root, loaded now while that exists.
  /// Returns the mapping as stored (with that prefix).
  @discardableResult
  func add(recorded mapping: Profile.Mapping) -> Profile.Mapping {
    var m = mapping
    if m.path.hasPrefix("/") {
      let prefix = viewPrefix(pid: m.pid)
      if !prefix.isEmpty {
        m.path = prefix + m.path
        resolver.preload(m.path)
      }
    }
    add(m)
    return m
  }

  private func add(_ mapping: Profile.Mapping) {
    guard known.insert(mapping).inserted else { return }
    mappings.append(mapping)
    resolver.add(mapping)
    withMappings.insert(mapping.pid)
  }

  /// "/proc/PID/root" when `pid` sees files differently from Sonde, else "". Another mount namespace
  /// (unshare -m, containers) can show other files at the same paths though its root is the same
  /// directory; a chroot has another root in the same namespace.
  private func viewPrefix(pid: Int32) -> String {
    let namespace = FileIdentity(path: "/proc/\(pid)/ns/mnt")
    let root = FileIdentity(path: "/proc/\(pid)/root")
    let foreign = (namespace != nil && namespace != ownMountNamespace) || (root != nil && root != ownRoot)
    return foreign ? "/proc/\(pid)/root" : ""
  }

  /// Forgets every process in `pids` (they exited), so a profiler that runs for days keeps only the
  /// mappings of processes that may still be sampled. A pid reused later is captured again when announced.
  func forget(_ pids: Set<Int32>) {
    guard !pids.isEmpty else { return }
    mappings.removeAll { pids.contains($0.pid) }
    known = known.filter { !pids.contains($0.pid) }
    captured.subtract(pids)
    withMappings.subtract(pids)
    resolver.forget(pids: pids)
  }

  /// Processes captured that no longer exist.
  func exited() -> Set<Int32> {
    Set(captured.filter { !processExists($0) })
  }

  /// Whether any mapping of `pid` is known (read from /proc or learned from a record).
  func hasMappings(_ pid: Int32) -> Bool { withMappings.contains(pid) }

  /// Reads `pid`'s executable mappings; new ones are added (an address keeps the newest mapping holding it).
  /// Returns false when the process is gone or unreadable.
  @discardableResult
  func capture(pid: Int32) -> Bool {
    guard pid > 0, let maps = try? ProcessMaps.read(pid: pid) else { return false }
    let prefix = viewPrefix(pid: pid)
    for m in maps.mappings where m.isExecutable {
      let path: String
      switch m.kind {
      case .file: path = prefix + m.path
      case .vdso: path = "[vdso]"
      default: continue
      }
      add(Profile.Mapping(pid: pid, start: m.start, end: m.end, fileOffset: m.offset, path: path))
      if !prefix.isEmpty { resolver.preload(path) }
    }
    captured.insert(pid)
    return true
  }
}

/// A file's device and inode: tells whether two paths (two processes' roots, or their mount namespaces under
/// /proc/PID/ns) are the same.
struct FileIdentity: Hashable {
  var device: UInt64
  var inode: UInt64

  init?(path: String) {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
  }
}
