import CSonde
import PerfEvents
import SondeSystem

/// The recording's kernel side: one event fd per (event, task, CPU), one ring per CPU and direction (the
/// other fds on that CPU redirected into it with SET_OUTPUT), their ids, and the decoder for what the rings
/// carry. Everything here is owned and closed with this value.
struct RecordRings {
  /// One opened event fd and which event it belongs to.
  struct Opened {
    var event: Int
    var fd: PerfEventFD
  }

  var opened: [Opened] = []
  var rings: [SampleRing] = []
  /// Sample ids per event, in the events' order.
  var ids: [[UInt64]]
  var decoder: RecordDecoder
  /// Events the kernel let sample user space only (perf's `:u` fallback).
  var userSpaceOnly: [String] = []

  /// Opens every (event, task, CPU); the first fd per CPU and direction owns that ring.
  init(
    specs: [(attr: perf_event_attr, name: String)], tasks: [Int32], cpus: [Int32], options: RecordOptions
  ) throws(SondeError) {
    // Backward (overwrite) and forward rings cannot be shared, so each CPU has one owner per direction.
    struct RingKey: Hashable {
      var cpu: Int32
      var backward: Bool
    }
    var ringOwner: [RingKey: PerfEventFD] = [:]
    for cpu in cpus {
      for task in tasks {
        for (index, spec) in specs.enumerated() {
          let fd: PerfEventFD
          do {
            fd = try PerfEventFD.open(spec.attr, target: EventTarget(pid: task, cpu: cpu), label: spec.name)
          } catch let e where e.kind == .noSuchProcess && tasks.count > 1 {
            // A thread of a -p target exited since /proc listed it; perf skips it too.
            continue
          }
          let key = RingKey(cpu: cpu, backward: spec.attr.write_backward != 0)
          if let owner = ringOwner[key] {
            try fd.setOutput(to: owner)
          } else {
            ringOwner[key] = fd
            // Side-band rings stay small: mmap/comm/task records are rare.
            let pages = key.backward || !options.overwrite ? options.dataPages : 16
            rings.append(try SampleRing(event: fd, dataPages: pages, overwrite: key.backward))
          }
          opened.append(Opened(event: index, fd: fd))
          if fd.fellBackToUserSpace && !userSpaceOnly.contains(spec.name) { userSpaceOnly.append(spec.name) }
        }
      }
    }
    guard !opened.isEmpty else {
      throw SondeError(.noSuchProcess, operation: "record", reason: "every target thread exited before sampling began")
    }
    var ids = [[UInt64]](repeating: [], count: specs.count)
    for o in opened { ids[o.event].append(try o.fd.id()) }
    self.ids = ids
    let attrs = specs.map(\.attr)
    decoder = RecordDecoder(
      defaultLayout: SampleLayout(attrs[0]),
      layouts: Dictionary(
        uniqueKeysWithValues: zip(attrs.indices, ids).flatMap { i, list in list.map { ($0, SampleLayout(attrs[i])) } }))
  }

  func enable() throws(SondeError) { for o in opened { try o.fd.enable() } }

  func disable() { for o in opened { try? o.fd.disable() } }
}
