import CSonde
import PerfEvents
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

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
            if key.backward || !options.overwrite {
              rings.append(try Self.dataRing(fd, pages: options.dataPages, cpus: cpus.count, backward: key.backward))
            } else {
              rings.append(try SampleRing(event: fd, dataPages: 16))
            }
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

  /// Per-CPU ring size when -m is not given: 2 MiB per CPU up to 16 CPUs, halved as the CPU count doubles so
  /// the set stays within 32 MiB, never below perf's default of 512 KiB. Bigger rings mean fewer wake-ups and longer
  /// writes: at 999 Hz with DWARF stacks (≈16 MB/s on 2 CPUs) 2 MiB rings cost the recorder about 40% less
  /// CPU than 512 KiB ones (BENCHMARKS.md, issue 17). A power of two, as the kernel requires.
  static func defaultDataPages(cpus: Int, pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE)))) -> Int {
    let bytes = max(512 << 10, min(2 << 20, (32 << 20) / max(1, cpus)))
    let pages = max(1, bytes / max(1, pageSize))
    return 1 << (Int.bitWidth - 1 - pages.leadingZeroBitCount)
  }

  /// A data ring of `pages` (-m), or of the default size; without -m, a ring beyond what an unprivileged
  /// user may lock (perf_event_mlock_kb) falls back to perf's 512 KiB.
  private static func dataRing(
    _ fd: PerfEventFD, pages: Int?, cpus: Int, backward: Bool
  ) throws(SondeError) -> SampleRing {
    if let pages { return try SampleRing(event: fd, dataPages: pages, overwrite: backward) }
    let preferred = defaultDataPages(cpus: cpus)
    let perfDefault = defaultDataPages(cpus: Int.max)
    do {
      return try SampleRing(event: fd, dataPages: preferred, overwrite: backward)
    } catch let e where e.kind == .permissionDenied && preferred > perfDefault {
      return try SampleRing(event: fd, dataPages: perfDefault, overwrite: backward)
    }
  }

  func enable() throws(SondeError) { for o in opened { try o.fd.enable() } }

  func disable() { for o in opened { try? o.fd.disable() } }
}
