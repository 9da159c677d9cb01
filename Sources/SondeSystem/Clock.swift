#if canImport(Glibc)
  import Glibc
#endif

/// Seconds on the monotonic clock (for durations and timeouts; not comparable across machines).
public func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Wall-clock time, nanoseconds since the Unix epoch (CLOCK_REALTIME): for timestamps in output files.
public func wallClockNanoseconds() -> Int64 {
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
