// A Swift workload of known CPU shares, compiled with `swiftc -O` by ProfileAcceptanceTests (it is in no
// package target): Matrix.reduce(rounds:), Matrix.transpose(rounds:) and Checksum.fold(_:seed:) burn CPU in
// their own bodies for 50%, 30% and 20% of the thread's CPU time, measured with CLOCK_THREAD_CPUTIME_ID, so
// the shares hold however busy the machine is (the clock reads between calls are outside the three).
//
// Usage: SwiftShares MS   (milliseconds of CPU in all)
#if canImport(Glibc)
  import Glibc
#endif

struct Matrix {
  var seed: UInt64

  @inline(never)
  func reduce(rounds: Int) -> UInt64 {
    var x = seed
    for _ in 0..<rounds {
      x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      x ^= x >> 29
    }
    return x
  }

  @inline(never)
  func transpose(rounds: Int) -> UInt64 {
    var x = seed ^ 0x9e37_79b9_7f4a_7c15
    for _ in 0..<rounds {
      x = x &* 2_862_933_555_777_941_757 &+ 3_037_000_493
      x ^= x >> 31
    }
    return x
  }
}

enum Checksum {
  @inline(never)
  static func fold(_ rounds: Int, seed: UInt64) -> UInt64 {
    var x = seed | 1
    for _ in 0..<rounds {
      x ^= x << 13
      x ^= x >> 7
      x ^= x << 17
    }
    return x
  }
}

func threadCPUNanoseconds() -> Int64 {
  var ts = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
  return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

let milliseconds = CommandLine.arguments.dropFirst().first.flatMap { Int64($0) } ?? 1000
let matrix = Matrix(seed: UInt64(truncatingIfNeeded: getpid()))
var sink: UInt64 = 0
var spent: [Int64] = [0, 0, 0]
// Rounds of 10 ms of CPU: 5 ms in reduce, 3 in transpose, 2 in fold, each a contiguous block of short calls
// (tens of microseconds) until its time is up. Whole-millisecond blocks keep a periodic sampler from
// aliasing with the pattern, as interleaving the functions call by call would.
let slice = 20_000
let end = threadCPUNanoseconds() + milliseconds * 1_000_000
repeat {
  for (function, share) in [(0, Int64(5)), (1, 3), (2, 2)] {
    let start = threadCPUNanoseconds()
    let until = start + share * 1_000_000
    repeat {
      switch function {
      case 0: sink ^= matrix.reduce(rounds: slice)
      case 1: sink ^= matrix.transpose(rounds: slice)
      default: sink ^= Checksum.fold(slice, seed: sink)
      }
    } while threadCPUNanoseconds() < until
    spent[function] += threadCPUNanoseconds() - start
  }
} while threadCPUNanoseconds() < end
print("SwiftShares: \(spent.map { $0 / 1_000_000 }) ms (\(sink & 1))")
