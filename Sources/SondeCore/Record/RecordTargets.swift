import PerfEvents
import SondeSystem

/// Who a recording samples, resolved against /proc: the tasks to open events on (-1 for every task), the
/// processes whose existing mappings and names must be synthesized, and the paused command, if any.
struct RecordTargets {
  /// Task ids to open events for (`-1`: system-wide).
  var tasks: [Int32]
  /// Processes that already run (their COMM/MMAP side-band is synthesized from /proc).
  var processes: [Int32]
  /// The command to run (forked, held before exec until the events are open).
  var launcher: PausedChild?

  static func resolve(_ options: RecordOptions) throws(SondeError) -> RecordTargets {
    switch options.target {
    case .command(let argv):
      let launcher = try PausedChild(arguments: argv)
      return RecordTargets(tasks: [launcher.pid], processes: [], launcher: launcher)
    case .processes(let pids):
      var tasks: [Int32] = []
      for pid in pids {
        guard fileExists("/proc/\(pid)") else {
          throw SondeError(.noSuchProcess, operation: "record -p \(pid)", reason: "no such process \(pid)")
        }
        let tids = (try? threads(ofProcess: pid)) ?? []
        tasks.append(contentsOf: tids.isEmpty ? [pid] : tids)
      }
      return RecordTargets(tasks: tasks, processes: pids, launcher: nil)
    case .threads(let tids):
      var processes: [Int32] = []
      for tid in tids {
        guard fileExists("/proc/\(tid)") else {
          throw SondeError(.noSuchProcess, operation: "record -t \(tid)", reason: "no such thread \(tid)")
        }
        if let tgid = procStatusField("Tgid", pid: tid).flatMap({ Int32($0) }), !processes.contains(tgid) {
          processes.append(tgid)
        }
      }
      return RecordTargets(tasks: tids, processes: processes, launcher: nil)
    case .systemWide:
      let launcher = try options.workload.map { argv throws(SondeError) in try PausedChild(arguments: argv) }
      // The processes to synthesize are listed once the events are open (see Recorder), so none that
      // starts in between is missed.
      return RecordTargets(tasks: [-1], processes: [], launcher: launcher)
    }
  }
}
