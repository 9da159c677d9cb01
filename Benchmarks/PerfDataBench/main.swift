// perf.data parsing throughput: framing only, full record decoding, and building the Profile.
// Usage: sonde-perfdata-bench FILE [RUNS]. Prints one line per stage: MB/s (best of RUNS).
import PerfEvents
import SondeCore

#if canImport(Glibc)
  import Glibc
#endif

func now() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let args = CommandLine.arguments
guard args.count >= 2 else {
  print("usage: sonde-perfdata-bench FILE [RUNS]")
  exit(2)
}
let path = args[1]
let runs = args.count > 2 ? Int(args[2]) ?? 5 : 5

func best(_ body: () throws -> Int) rethrows -> (seconds: Double, bytes: Int) {
  var bestTime = Double.infinity
  var bytes = 0
  for _ in 0..<runs {
    let t0 = now()
    bytes = try body()
    bestTime = min(bestTime, now() - t0)
  }
  return (bestTime, bytes)
}

do {
  let file = try PerfDataFile(path: path)
  let size = file.dataRange.count
  let framing = try best { try file.forEachRecord { _, _ in }.bytes }
  var samples = 0
  let decoding = try best {
    samples = 0
    return try file.forEachDecodedRecord { if case .sample = $0.body { samples += 1 } }.bytes
  }
  let profile = try best {
    let (p, s) = try ProfileLoader().load(file)
    _ = p.stacks.count
    return s.bytes
  }
  let mb = Double(size) / 1_048_576
  print("file: \(path) data \(format2(mb)) MB, \(samples) samples, best of \(runs)")
  for (name, r) in [("framing", framing), ("decode", decoding), ("profile", profile)] {
    print("\(name): \(format2(Double(r.bytes) / 1_048_576 / r.seconds)) MB/s (\(format2(r.seconds * 1000)) ms)")
  }
} catch {
  print("error: \(error)")
  exit(1)
}

func format2(_ v: Double) -> String {
  let r = (v * 100).rounded() / 100
  let whole = Int(r)
  var frac = String(Int(((r - Double(whole)) * 100).rounded()))
  while frac.count < 2 { frac = "0" + frac }
  return "\(whole).\(frac)"
}
