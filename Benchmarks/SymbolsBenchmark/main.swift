// sonde-bench-symbols: symbolization throughput of Sonde's Symbolizer versus llvm-symbolizer on the same
// address set, cold (fresh symbolizer/process) and warm (caches populated). Not a test: run it, read the
// table, append it to BENCHMARKS.md.
//
//   swift build -c release --product sonde-bench-symbols
//   .build/release/sonde-bench-symbols [--addresses N] [--rounds R] [--no-demangle] [MODULE…]
import Foundation
import Symbols
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

struct Options {
  var count = 20_000
  var rounds = 5
  var modules: [String] = []
  var demangle = true
}

func parseOptions() -> Options {
  var options = Options()
  var arguments = CommandLine.arguments.dropFirst()
  while let argument = arguments.popFirst() {
    switch argument {
    case "--addresses": options.count = arguments.popFirst().flatMap { Int($0) } ?? options.count
    case "--rounds": options.rounds = arguments.popFirst().flatMap { Int($0) } ?? options.rounds
    case "--no-demangle": options.demangle = false
    default: options.modules.append(argument)
    }
  }
  if options.modules.isEmpty {
    options.modules = ["/lib/x86_64-linux-gnu/libc.so.6", "/opt/swift/usr/lib/swift/linux/libswiftCore.so"]
      .filter { FileManager.default.fileExists(atPath: $0) }
  }
  return options
}

/// A deterministic PRNG so both tools see the same addresses run after run.
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
}

/// Random addresses inside sized function symbols of `module`.
func addressSet(_ module: String, count: Int) throws -> [UInt64] {
  let elf = try ELFFile.open(path: module)
  var functions = elf.symbolTable().symbols.filter { $0.size > 0 }
  if functions.isEmpty, let debug = DebugFileLocator().locate(for: elf, binaryPath: module) {
    functions = debug.symbolTable().symbols.filter { $0.size > 0 }
  }
  var random = SplitMix(state: 42)
  return (0..<count).map { _ in
    let f = functions.randomElement(using: &random)!
    return f.address + UInt64.random(in: 0..<f.size, using: &random)
  }
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// Runs llvm-symbolizer once over `batches` copies of the addresses; returns wall seconds.
func runLLVM(_ module: String, _ addresses: [UInt64], batches: Int, extra: [String]) throws -> Double {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/llvm-symbolizer")
  process.arguments = ["--obj=" + module] + extra
  let input = Pipe()
  let output = Pipe()
  process.standardInput = input
  process.standardOutput = output
  process.standardError = FileHandle.nullDevice
  let text = addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n") + "\n"
  let data = Data(String(repeating: text, count: batches).utf8)
  let start = ContinuousClock.now
  try process.run()
  DispatchQueue.global().async {
    input.fileHandleForWriting.write(data)
    try? input.fileHandleForWriting.close()
  }
  _ = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return seconds(ContinuousClock.now - start)
}

struct Row {
  var configuration: String
  var sondeCold: Double
  var sondeWarm: Double
  var llvmCold: Double
  var llvmWarm: Double
}

let options = parseOptions()
var rows: [Row] = []
var checksum = 0
for module in options.modules {
  let addresses = try addressSet(module, count: options.count)
  for debugInfo in [true, false] {
    var symbolizerOptions = Symbolizer.Options()
    symbolizerOptions.useDebugFiles = debugInfo
    symbolizerOptions.demangle = options.demangle
    var sondeCold: [Double] = []
    var sondeWarm: [Double] = []
    var llvmCold: [Double] = []
    var llvmWarm: [Double] = []
    let llvmExtra =
      (debugInfo ? [] : ["--debug-file-directory=/nonexistent", "--no-inlines"])
      + (options.demangle ? [] : ["--no-demangle"])
    for _ in 0..<options.rounds {
      let symbolizer = Symbolizer(options: symbolizerOptions)
      var start = ContinuousClock.now
      var frames = try symbolizer.symbolize(file: module, addresses: addresses)
      sondeCold.append(seconds(ContinuousClock.now - start))
      start = ContinuousClock.now
      frames = try symbolizer.symbolize(file: module, addresses: addresses)
      sondeWarm.append(seconds(ContinuousClock.now - start))
      checksum &+= frames.reduce(0) { $0 &+ $1.name.utf8.count }
      // Cold: one process, one batch. Warm: the extra time per additional batch in one process.
      let one = try runLLVM(module, addresses, batches: 1, extra: llvmExtra)
      let six = try runLLVM(module, addresses, batches: 6, extra: llvmExtra)
      llvmCold.append(one)
      llvmWarm.append(max((six - one) / 5, 1e-6))
    }
    let name =
      (module.split(separator: "/").last.map(String.init) ?? module)
      + (debugInfo ? " (debug file: Sonde symtab, llvm DWARF)" : " (symbol tables only)")
    rows.append(
      Row(
        configuration: name, sondeCold: median(sondeCold), sondeWarm: median(sondeWarm), llvmCold: median(llvmCold),
        llvmWarm: median(llvmWarm)))
  }
}

/// Process mode: the same libc addresses as runtime addresses of this process, through /proc/self/maps.
func processMode(count: Int, rounds: Int, demangle: Bool) throws -> (cold: Double, warm: Double)? {
  let maps = try ProcessMaps.read(pid: getpid())
  guard let libc = maps.mappings.first(where: { $0.path.hasSuffix("/libc.so.6") }) else { return nil }
  let elf = try ELFFile.open(path: libc.path)
  let runtime = try addressSet(libc.path, count: count).compactMap { vaddr -> UInt64? in
    guard let offset = elf.fileOffset(forVirtualAddress: vaddr) else { return nil }
    let mapping = maps.mappings.first {
      $0.path == libc.path && offset >= $0.offset && offset - $0.offset < $0.end - $0.start
    }
    return mapping.map { $0.start + offset - $0.offset }
  }
  var cold: [Double] = []
  var warm: [Double] = []
  var options = Symbolizer.Options()
  options.demangle = demangle
  for _ in 0..<rounds {
    let symbolizer = Symbolizer(options: options)
    var start = ContinuousClock.now
    _ = symbolizer.symbolize(pid: getpid(), addresses: runtime)
    cold.append(seconds(ContinuousClock.now - start))
    start = ContinuousClock.now
    _ = symbolizer.symbolize(pid: getpid(), addresses: runtime)
    warm.append(seconds(ContinuousClock.now - start))
  }
  return (median(cold), median(warm))
}

func rate(_ count: Int, _ seconds: Double) -> String {
  let perSecond = Double(count) / seconds
  return perSecond >= 1e6 ? String(format: "%.1f M/s", perSecond / 1e6) : String(format: "%.0f k/s", perSecond / 1e3)
}

print(
  "Addresses per module: \(options.count); rounds: \(options.rounds) (medians); demangling "
    + (options.demangle ? "on" : "off") + "; checksum \(checksum % 1000)")
print("| module | Sonde cold | llvm-symbolizer cold | ratio cold | Sonde warm | llvm-symbolizer warm | ratio warm |")
print("|---|---|---|---|---|---|---|")
for row in rows {
  print(
    "| \(row.configuration) | \(rate(options.count, row.sondeCold)) | \(rate(options.count, row.llvmCold)) | "
      + String(format: "%.1f×", row.llvmCold / row.sondeCold) + " | \(rate(options.count, row.sondeWarm)) | "
      + "\(rate(options.count, row.llvmWarm)) | " + String(format: "%.1f×", row.llvmWarm / row.sondeWarm) + " |")
}

if let process = try processMode(count: options.count, rounds: options.rounds, demangle: options.demangle) {
  print(
    "\nProcess mode (`symbolize(pid:addresses:)`, the same libc addresses at their runtime addresses in this "
      + "process, through /proc/self/maps): cold \(rate(options.count, process.cold)), warm "
      + "\(rate(options.count, process.warm)).")
}
