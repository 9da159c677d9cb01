import Foundation

/// CPU time the kernel accounted to steal (the hypervisor running someone else) and to interrupts, summed
/// over every CPU, from the first line of `/proc/stat`.
///
/// A task-clock event counts wall time while its task is scheduled in, so it includes stolen and interrupt
/// time; CPU-time clocks and rusage (sum_exec_runtime) exclude both. On a VM whose host is busy the two
/// differ by about the time stolen meanwhile: tests comparing them allow exactly that much.
public enum StolenTime {
  /// Seconds of steal + irq + softirq since boot (all CPUs), or 0 when /proc/stat cannot be read.
  public static func seconds() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
      let line = text.split(separator: "\n").first, line.hasPrefix("cpu ")
    else { return 0 }
    // cpu user nice system idle iowait irq softirq steal …, in clock ticks.
    let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard fields.count >= 8 else { return 0 }
    return (fields[5] + fields[6] + fields[7]) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }

  /// Runs `body` and returns its result with the steal + interrupt seconds accounted meanwhile, plus one
  /// tick per CPU for the accounting's granularity.
  public static func during<T>(_ body: () throws -> T) rethrows -> (T, stolen: Double) {
    let before = seconds()
    let result = try body()
    let ticks = Double(ProcessInfo.processInfo.activeProcessorCount) / Double(sysconf(Int32(_SC_CLK_TCK)))
    return (result, max(0, seconds() - before) + ticks)
  }
}
