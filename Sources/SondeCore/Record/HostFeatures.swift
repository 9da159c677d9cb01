import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The machine description perf.data carries: hostname, kernel release, arch, CPUs, memory, cmdline.
enum HostFeatures {
  /// The version written to the file's version feature (perf prints it as "perf version").
  static let sondeVersion = SondeVersion.string

  static func collect(commandLine: [String]) -> PerfDataFeatures {
    var f = PerfDataFeatures()
    var name = utsname()
    if uname(&name) == 0 {
      f.hostname = field(&name.nodename)
      f.osRelease = field(&name.release)
      f.arch = field(&name.machine)
    }
    f.version = "sonde \(sondeVersion)"
    let online = CPUList.online()
    let present = readSmallFile("/sys/devices/system/cpu/present").flatMap { try? CPUList.parse($0) } ?? online
    f.cpusAvailable = UInt32((present.max() ?? 0) + 1)
    f.cpusOnline = UInt32(online.count)
    if let cpuinfo = readSmallFile("/proc/cpuinfo"),
      let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
      let colon = line.firstIndex(of: ":")
    {
      f.cpuDescription = line[line.index(after: colon)...].trimmingWhitespace()
    }
    if let meminfo = readSmallFile("/proc/meminfo"),
      let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") })
    {
      f.totalMemoryKB = line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }
    }
    f.cmdline = commandLine
    return f
  }

  private static func field<T>(_ value: inout T) -> String {
    withUnsafeBytes(of: &value) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
  }
}
