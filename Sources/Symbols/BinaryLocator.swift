import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Finds the file a probe names: a path; for a process, the library it has mapped under that name (read
/// through /proc/PID/root, so its mount namespace's file); a library as the dynamic loader would find it
/// (LD_LIBRARY_PATH, /etc/ld.so.conf's directories, the system's); or a program on PATH.
public enum BinaryLocator {
  public static func locate(_ name: String, pid: Int32? = nil) throws(SondeError) -> String {
    let operation = "find binary '\(name)'"
    if name.contains("/") {
      if let pid, name.hasPrefix("/"), fileExists("/proc/\(pid)/root\(name)") { return "/proc/\(pid)/root\(name)" }
      guard fileExists(name) else {
        throw SondeError(.invalidInput, operation: operation, reason: "\(name) does not exist")
      }
      return name
    }
    if let pid, let mapped = mappedLibrary(name, pid: pid) { return mapped }
    var tried: [String] = []
    for directory in libraryDirectories() {
      for candidate in libraryNames(name, in: directory) {
        let path = directory + "/" + candidate
        if isELF(path) { return path }
      }
      tried.append(directory)
    }
    let searchPath = (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":")
    for directory in searchPath where access("\(directory)/\(name)", X_OK) == 0 && isELF("\(directory)/\(name)") {
      return "\(directory)/\(name)"
    }
    throw SondeError(
      .invalidInput, operation: operation,
      reason: "no library or program '\(name)' in \(tried.prefix(8).joined(separator: ", ")) or on PATH",
      remedy: "give its path")
  }

  /// The library `name` (`libc`, `libc.so.6`) as mapped by `pid`.
  static func mappedLibrary(_ name: String, pid: Int32) -> String? {
    guard let maps = try? ProcessMaps.read(pid: pid) else { return nil }
    for m in maps.mappings where m.kind == .file {
      let base = m.path.split(separator: "/").last.map(String.init) ?? m.path
      if matches(base, name) { return fileExists("/proc/\(pid)/root\(m.path)") ? "/proc/\(pid)/root\(m.path)" : m.path }
    }
    return nil
  }

  /// Whether file `base` is what `name` asks for: itself, or `name.so…`, `libNAME.so…`.
  static func matches(_ base: String, _ name: String) -> Bool {
    base == name || base.hasPrefix(name + ".so") || base.hasPrefix("lib" + name + ".so")
      || (name.hasSuffix(".so") && base.hasPrefix(name + "."))
  }

  /// Files of `directory` that `name` may mean, exact names first, then the shortest versioned name.
  static func libraryNames(_ name: String, in directory: String) -> [String] {
    let entries = listDirectory(directory).filter { matches($0, name) }
    return entries.sorted { ($0 == name ? 0 : 1, $0.count, $0) < ($1 == name ? 0 : 1, $1.count, $1) }
  }

  /// Where the dynamic loader looks: LD_LIBRARY_PATH, then /etc/ld.so.conf (and its includes), then the
  /// system directories.
  static func libraryDirectories() -> [String] {
    var directories: [String] = []
    if let env = getenv("LD_LIBRARY_PATH") {
      directories += String(cString: env).split(separator: ":").map(String.init)
    }
    directories += configuredDirectories("/etc/ld.so.conf", depth: 0)
    directories += [
      "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
      "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib",
    ]
    var seen = Set<String>()
    return directories.filter { !$0.isEmpty && seen.insert($0).inserted }
  }

  /// Directories of an ld.so.conf file, following `include` lines (globs in one directory, as glibc's).
  static func configuredDirectories(_ path: String, depth: Int) -> [String] {
    guard depth < 4, let text = readSmallFile(path) else { return [] }
    var result: [String] = []
    for raw in text.split(separator: "\n") {
      let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingWhitespace()
      if line.isEmpty { continue }
      if line.hasPrefix("include ") {
        let pattern = line.dropFirst(8).trimmingWhitespace()
        let slash = pattern.lastIndex(of: "/") ?? pattern.startIndex
        let directory = String(pattern[..<slash])
        let glob = String(pattern[pattern.index(after: slash)...])
        for file in listDirectory(directory) where globMatches(glob, file) {
          result += configuredDirectories(directory + "/" + file, depth: depth + 1)
        }
      } else if line.hasPrefix("/") {
        result.append(line)
      }
    }
    return result
  }

  static func isELF(_ path: String) -> Bool {
    guard let bytes = readFilePrefix(path, count: 4) else { return false }
    return bytes == [0x7f, 0x45, 0x4c, 0x46]
  }
}
