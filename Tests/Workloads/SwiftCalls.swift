// A Swift program with a known number of calls, built by the trace tests with `swiftc -O` (not a package
// target): `SwiftCalls N` calls Counter.step(by:) exactly N times.
struct Counter {
  var total: UInt64 = 0

  @inline(never)
  mutating func step(by amount: UInt64) {
    total &+= amount &* 2654435761
  }
}

let n = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
var counter = Counter()
for i in 0..<n { counter.step(by: UInt64(i)) }
print(counter.total)
