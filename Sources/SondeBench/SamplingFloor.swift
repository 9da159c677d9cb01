import BPF
import PerfEvents
import SondeBPFEngines
import SondeBPFPrograms
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The floor configuration: bench.bpf.c's counting program on the profiler's own per-CPU cpu-clock events
/// at the run's frequency, loaded in the benchmark's process. Nothing reads anything until it ends, so
/// what the workload loses is the sampling interrupt plus the cost of entering a BPF program.
final class SamplingFloor {
  private let object: BPFObject
  private var links: [BPFLink] = []
  private let samples: BPFMap<UInt32, UInt64>

  /// Loads the program and attaches it on every online CPU at `frequency`.
  init(frequency: UInt64) throws(SondeError) {
    let open = try OpenBPFObject(bytes: BPFProgramBytes.bench, name: "bench")
    object = try open.load()
    samples = try object.map("floor_samples")
    let program = try object.program("sonde_bench_floor")
    var options = ProfilerOptions()
    options.frequency = frequency
    do {
      for event in try SamplingEvents.open(SamplingEvents.cpuClock(options), options) {
        links.append(try program.attachPerfEvent(event))
      }
    } catch {
      close()
      throw error
    }
  }

  deinit { close() }

  /// Samples the program counted so far, over every CPU.
  func sampleCount() throws(SondeError) -> UInt64 { try samples.summedCounters(slots: 1)[0] }

  /// The program's kernel run statistics (while kernel.bpf_stats_enabled is 1), from this process's fdinfo:
  /// the floor is the only BPF program the benchmark itself holds.
  func runStats() -> BPFRunStats { ProcessProbe.bpfProgramStats(getpid()) }

  func close() {
    for link in links { link.close() }
    links.removeAll()
    object.close()
  }
}
