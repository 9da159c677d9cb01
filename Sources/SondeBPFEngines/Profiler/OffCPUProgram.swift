import BPF
import PerfEvents
import Profiles
import SondeBPFPrograms
import SondeBPFTypes
import SondeSystem

/// offcpu.bpf.c loaded for one run: at every sched_switch a targeted thread that blocks has its stacks and
/// the time remembered, and the interval until it runs again is added to its key. Uses tp_btf/sched_switch
/// where the kernel has it (typed task pointers, 5.5+), the sched:sched_switch tracepoint otherwise.
final class OffCPUProgram: BPFProfileSource {
  let object: BPFObject
  private var links = AttachedLinks()
  private let counts: BPFMap<sonde_profile_key, sonde_offcpu_value>
  private let stacks: BPFMap<UInt32, sonde_profile_stack>
  let stats: BPFMap<UInt32, UInt64>
  let targets: BPFMap<UInt32, UInt8>
  let newProcesses: RingBufferReader<sonde_profile_pid_event>
  /// Which sched_switch hook is loaded: "tp_btf" or "tracepoint".
  let hook: String
  private(set) var bytesRead: UInt64 = 0
  /// Off-CPU stacks are frame-pointer stacks: no unwind tables.
  var unwindTableStats: UnwindTableLoader.Stats? { nil }

  init(options: ProfilerOptions, minimumBlockNanoseconds: UInt64) throws(SondeError) {
    func load(_ program: String) throws(SondeError) -> BPFObject {
      var open = try OpenBPFObject(bytes: BPFProgramBytes.offcpu, name: "offcpu")
      try ProcessTracking.configure(&open, options)
      try open.setConstant("min_block_ns", to: minimumBlockNanoseconds)
      try open.setMaxEntries(options.stackMapEntries, forMap: "offcpu_stacks")
      try open.setMaxEntries(options.countsMapEntries, forMap: "offcpu_counts")
      for other in ["sonde_offcpu_btf", "sonde_offcpu_tp"] where other != program {
        try open.setAutoload(false, program: other)
      }
      return try open.load()
    }
    if !options.forceSwitchTracepoint, BPFFeatures.probe(.tpBTF).supported, let object = try? load("sonde_offcpu_btf") {
      self.object = object
      hook = "tp_btf"
    } else {
      object = try load("sonde_offcpu_tp")
      hook = "tracepoint"
    }
    counts = try object.map("offcpu_counts")
    stacks = try object.map("offcpu_stacks")
    stats = try object.map("profile_stats")
    targets = try object.map("targets")
    newProcesses = try RingBufferReader(object: object, map: "new_pids")
  }

  deinit { close() }

  func attach(followForks: Bool) throws(SondeError) {
    if hook == "tp_btf" {
      links.add(try object.program("sonde_offcpu_btf").attachTrace())
    } else {
      links.add(try object.program("sonde_offcpu_tp").attachTracepoint(category: "sched", name: "sched_switch"))
    }
    links.add(try ProcessTracking.attach(object, followForks: followForks))
  }

  func detach() {
    links.closeAll()
  }

  func close() {
    detach()
    newProcesses.close()
    object.close()
  }

  /// Drains the counts (batch lookup-and-delete). Stacks stay in the map for the whole run: a blocked
  /// thread's stack id is used when it wakes, which may be after this drain.
  func drain(final: Bool, missingStacks: inout UInt64) throws(SondeError) -> [DrainedStack] {
    let entries = try counts.drainEntries()
    let (drained, found) = try ProcessTracking.stacks(
      of: entries.map { ($0.key, $0.value.count, $0.value.nanoseconds) }, missingStacks: &missingStacks
    ) { id throws(SondeError) in
      try stacks.lookup(UInt32(truncatingIfNeeded: id)).map(ProcessTracking.frames(of:))
    }
    let copied = ProcessTracking.bytesDrained(
      keys: entries.count, of: sonde_offcpu_value.self, stacks: found.count, stackKey: UInt32.self)
    bytesRead +|= copied
    return drained
  }
}
