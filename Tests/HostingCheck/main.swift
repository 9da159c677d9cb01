// sonde-hosting-check: a test helper (never shipped; test-only modes live here, not in `sonde`) that hosts three engines in one process — a counting
// engine (StatEngine with -I intervals), a recording engine (Recorder) and a BPF ring-buffer reader — each
// with its own StopToken, stops the recorder while the others run, and prints one JSON line of what it saw:
// descriptors before the recorder started, while it ran and after it stopped, and what the other engines
// delivered before and after. Alone in its process, its descriptor counts are exact.
import BPF
import CSonde
import Foundation
import PerfEvents
import SondeBPFTestPrograms
import SondeBPFTypes
import SondeCore
import SondeSystem

func openDescriptors() -> Int { listDirectory("/proc/self/fd").count }

func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
  let end = monotonicSeconds() + seconds
  while monotonicSeconds() < end {
    if condition() { return true }
    usleep(10_000)
  }
  return condition()
}

let arguments = CommandLine.arguments

// `--hold-bpf`, for the hygiene test: load and attach a tracepoint program, print its kernel id, wait for a
// signal. SIGINT/SIGTERM end the process, and the kernel must then release the program.
if arguments.count == 2 && arguments[1] == "--hold-bpf" {
  // The test runner may spawn us with SIGINT blocked (the mask survives exec), as sonde's main knows too.
  sonde_unblock_termination_signals()
  let open = try OpenBPFObject(bytes: BPFTestProgramBytes.count, name: "count")
  let object = try open.load(only: ["sonde_tp_getpid"])
  let program = try object.program("sonde_tp_getpid")
  let link = try program.attachTracepoint(category: "syscalls", name: "sys_enter_getpid")
  print("holding program \(program.kernelID ?? 0)")
  fflush(nil)
  while link.isAttached { pause() }
  exit(0)
}

guard arguments.count == 3 else {
  FileHandle.standardError.write(Data("usage: sonde-hosting-check DEMO OUTPUT.data | --hold-bpf\n".utf8))
  exit(2)
}
let demo = arguments[1]
let output = arguments[2]

// A workload that makes getpid calls for as long as the check runs.
let child = try PausedChild(arguments: [demo, "getpid", "2000000000"])
try child.release()

// Engine 1: a BPF program on sys_enter_getpid of the child, its events read through the ringbuf.
func loadRingProducer(for pid: Int32) throws -> BPFObject {
  var open = try OpenBPFObject(bytes: BPFTestProgramBytes.ringbuf, name: "ringbuf")
  try open.setConstant("target_tid", to: UInt32(pid))
  return try open.load(only: ["sonde_rb_produce"])
}
let object = try loadRingProducer(for: child.pid)
let reader = try RingBufferReader<sonde_event>(object: object, map: "events")
let link = try object.program("sonde_rb_produce").attach()
let bpfEvents = Locked(0)
let readerThread = BlockingThread { thread in
  while !thread.isStopped {
    let n = (try? reader.poll(timeoutMilliseconds: 50).count) ?? 0
    bpfEvents.withLock { $0 += n }
  }
}

// Engine 2: counting the child's getpid calls, a delta every 100 ms.
let statStop = StopToken()
let intervals = Locked(0)
let statThread = BlockingThread(token: statStop) { _ in
  let groups = try! EventParser().parse(["syscalls:sys_enter_getpid"])
  var request = StatRequest(groups: groups, scope: .processes([child.pid]), command: nil)
  request.intervalMilliseconds = 100
  _ = try? StatEngine().run(request, stop: statStop) { _ in intervals.withLock { $0 += 1 } }
}

guard waitUntil(10, { bpfEvents.withLock { $0 } > 0 && intervals.withLock { $0 } > 0 }) else {
  print("{\"error\":\"the BPF reader or the counting engine delivered nothing\"}")
  exit(1)
}
// Engine 3 (below) records the child until stopped; its token is the host's, made before counting.
let recordStop = StopToken()
let before = openDescriptors()

let options: RecordOptions = {
  var o = RecordOptions()
  o.target = .processes([child.pid])
  o.frequency = 499
  o.output = output
  return o
}()
let recordResult = Locked<RecordResult?>(nil)
let recordError = Locked<String?>(nil)
let recordThread = BlockingThread(token: recordStop) { _ in
  do {
    let result = try Recorder(options: options).run(stop: recordStop)
    recordResult.withLock { $0 = result }
  } catch {
    recordError.withLock { $0 = "\(error)" }
  }
}
_ = waitUntil(10) { openDescriptors() > before }
usleep(500_000)
let during = openDescriptors()
let eventsAtStop = bpfEvents.withLock { $0 }
let intervalsAtStop = intervals.withLock { $0 }
recordThread.stop()  // stops its token and joins: Recorder.run has returned
let after = openDescriptors()

// The other two still deliver.
usleep(400_000)
let eventsLater = bpfEvents.withLock { $0 }
let intervalsLater = intervals.withLock { $0 }

statThread.stop()
readerThread.stop()
link.close()
reader.close()
object.close()
kill(child.pid, SIGKILL)
_ = try? child.wait()

let samples = recordResult.withLock { $0?.samples } ?? -1
let error = recordError.withLock { $0 } ?? ""
print(
  "{\"before\":\(before),\"during\":\(during),\"after\":\(after),\"samples\":\(samples),"
    + "\"events_at_stop\":\(eventsAtStop),\"events_later\":\(eventsLater),"
    + "\"intervals_at_stop\":\(intervalsAtStop),\"intervals_later\":\(intervalsLater),"
    + "\"error\":\"\(error.replacingOccurrences(of: "\"", with: "'"))\"}")
