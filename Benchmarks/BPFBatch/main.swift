// Drains a 100,000-entry BPF hash map two ways, side by side, and prints the ratio:
//   baseline: BPF_MAP_GET_NEXT_KEY walk, then one LOOKUP and one DELETE syscall per element;
//   batch:    BPF_MAP_LOOKUP_AND_DELETE_BATCH with the given batch size.
// usage: bpf-batch-bench [entries] [batch size] [rounds]
import BPF
import SondeBPFTestPrograms

#if canImport(Glibc)
  import Glibc
#endif

func now() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
let entries = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
let batchSize = arguments.count > 2 ? Int(arguments[2]) ?? 4096 : 4096
let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5

do {
  var open = try OpenBPFObject(bytes: BPFTestProgramBytes.maps, name: "maps")
  try open.setMaxEntries(UInt32(entries), forMap: "table")
  let object = try open.load(only: [])
  let table = try object.map("table", key: UInt64.self, value: UInt64.self)
  func fill() throws { for key in 0..<UInt64(entries) { try table.update(key, key) } }

  var baseline: [Double] = []
  var batch: [Double] = []
  for _ in 0..<rounds {
    try fill()
    var start = now()
    var drained = 0
    for key in try table.keys() {
      if try table.lookup(key) != nil, try table.delete(key) { drained += 1 }
    }
    baseline.append(now() - start)
    precondition(drained == entries, "baseline drained \(drained)")

    try fill()
    start = now()
    let result = try table.lookupAndDeleteBatch(batchSize: batchSize)
    batch.append(now() - start)
    precondition(result.count == entries, "batch drained \(result.count)")
  }
  let medianBaseline = baseline.sorted()[rounds / 2]
  let medianBatch = batch.sorted()[rounds / 2]
  print("entries=\(entries) batch=\(batchSize) rounds=\(rounds)")
  print("baseline (get_next_key + lookup + delete): median \(Int(medianBaseline * 1e3)) ms")
  print("batch lookup_and_delete:                  median \(Int(medianBatch * 1e3)) ms")
  print("ratio baseline/batch: \(Double(Int(medianBaseline / medianBatch * 10)) / 10)x")
} catch {
  print("bpf-batch-bench: \(error)")
  exit(1)
}
