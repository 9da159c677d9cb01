import Profiles
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What the benchmark reads of a running process from /proc: its CPU time, its perf events, the run
/// statistics of the BPF programs it holds, its memory. The profiler's own accounting is read separately,
/// from what it writes when it ends.
enum ProcessProbe {
  /// Nanoseconds on CPU (user + system) of every live thread of `pid`: the first field of each
  /// /proc/PID/task/TID/schedstat, which the scheduler keeps in nanoseconds (the tick-based utime/stime
  /// of /proc/PID/stat cannot resolve a profiler's 0.1% of a core over a few seconds).
  static func cpuNanoseconds(_ pid: Int32) -> UInt64 {
    var total: UInt64 = 0
    for tid in listDirectory("/proc/\(pid)/task") {
      guard let text = readSmallFile("/proc/\(pid)/task/\(tid)/schedstat"),
        let first = text.split(separator: " ").first, let ns = UInt64(first)
      else { continue }
      total = total.saturatingAdd(ns)
    }
    return total
  }

  /// CPU-seconds the hypervisor has taken from this machine since boot, over all CPUs: the steal field of
  /// /proc/stat's cpu line, in USER_HZ ticks.
  static func stealSeconds() -> Double {
    guard let stat = readSmallFile("/proc/stat"), let line = stat.split(separator: "\n").first,
      line.hasPrefix("cpu ")
    else { return 0 }
    let fields = line.split(separator: " ")
    guard fields.count > 8, let ticks = Double(fields[8]) else { return 0 }
    return ticks / Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
  }

  /// How many perf events `pid` holds open (each shows as a link to anon_inode:[perf_event]).
  static func perfEventCount(_ pid: Int32) -> Int {
    descriptors(pid).filter { $0.target == "anon_inode:[perf_event]" }.count
  }

  /// Run time and run count of the BPF programs `pid` holds, summed (their fdinfo; the kernel only keeps
  /// them while kernel.bpf_stats_enabled is 1). Programs are counted once however many fds name them.
  static func bpfProgramStats(_ pid: Int32) -> BPFRunStats {
    var stats = BPFRunStats()
    var seen: Set<UInt64> = []
    for fd in descriptors(pid) where fd.target == "anon_inode:bpf-prog" {
      guard let info = readSmallFile("/proc/\(pid)/fdinfo/\(fd.number)") else { continue }
      var fields: [Substring: UInt64] = [:]
      for line in info.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let value = UInt64(parts[1].trimmingWhitespace()) else { continue }
        fields[parts[0]] = value
      }
      guard let id = fields["prog_id"], seen.insert(id).inserted else { continue }
      stats.programs += 1
      stats.runNanoseconds = stats.runNanoseconds.saturatingAdd(fields["run_time_ns"] ?? 0)
      stats.runCount = stats.runCount.saturatingAdd(fields["run_cnt"] ?? 0)
    }
    return stats
  }

  /// The peak resident set of `pid` so far (VmHWM), in bytes.
  static func peakResidentBytes(_ pid: Int32) -> UInt64? {
    guard let field = procStatusField("VmHWM", pid: pid),
      let kB = UInt64(field.split(separator: " ").first ?? "")
    else { return nil }
    return kB.saturatingMultiply(1024)
  }

  private static func descriptors(_ pid: Int32) -> [(number: String, target: String)] {
    listDirectory("/proc/\(pid)/fd").compactMap { number in
      readLink("/proc/\(pid)/fd/\(number)").map { (number, $0) }
    }
  }
}

/// The kernel's run statistics of a set of BPF programs (bpf_prog_info run_time_ns and run_cnt).
public struct BPFRunStats: Sendable, Hashable {
  public var programs = 0
  public var runNanoseconds: UInt64 = 0
  public var runCount: UInt64 = 0

  public init(programs: Int = 0, runNanoseconds: UInt64 = 0, runCount: UInt64 = 0) {
    self.programs = programs
    self.runNanoseconds = runNanoseconds
    self.runCount = runCount
  }

  /// What ran between `earlier` and this reading.
  public func since(_ earlier: BPFRunStats) -> BPFRunStats {
    BPFRunStats(
      programs: programs,
      runNanoseconds: runNanoseconds.saturatingSubtracting(earlier.runNanoseconds),
      runCount: runCount.saturatingSubtracting(earlier.runCount))
  }
}
