import CSonde
import SondeSystem

/// How an event fared when it was opened.
public enum CounterStatus: Sendable, Hashable {
  /// Open on every target.
  case counting
  /// The machine or kernel lacks the event (`<not supported>`); the reason says why.
  case notSupported(String)
}

/// Options that apply to every counter of a set.
public struct CountingOptions: Sendable, Hashable {
  /// Count children the targets create after opening (perf stat's default).
  public var inherit = true
  /// Start counting at the target's next exec (command mode: the child is held before exec).
  public var enableOnExec = false
  /// Open disabled; `enable()` starts counting. Ignored with `enableOnExec` (which implies disabled).
  public var startDisabled = true

  public init(inherit: Bool = true, enableOnExec: Bool = false, startDisabled: Bool = true) {
    self.inherit = inherit
    self.enableOnExec = enableOnExec
    self.startDisabled = startDisabled
  }
}

/// Counters for a list of event groups on a list of targets (threads or CPUs): the live object behind
/// `sonde stat` and `PerfCounters.measure`. Owns every descriptor; closes them in `close()` and deinit.
///
/// An event the machine lacks is marked `<not supported>` and the others still count, as perf does.
/// Permission and input errors abort the whole set with an explained `SondeError`.
public final class CounterSet: @unchecked Sendable {
  /// The events, flattened in the user's order.
  public let events: [EventSpec]
  /// Open status per event, same order as `events`.
  public private(set) var status: [CounterStatus]
  /// Events (indices into `events`) the kernel let count user space only (perf's fallback to `:u`).
  public private(set) var userSpaceOnly: Set<Int> = []
  public let targets: [EventTarget]

  /// One opened group on one target: descriptors per member, and whether it is read as a group.
  private struct OpenGroup {
    var members: [(eventIndex: Int, fd: PerfEventFD)]
    var groupRead: Bool
  }
  private var groups: [OpenGroup] = []

  private static let baseFormat: ReadFormat = [.totalTimeEnabled, .totalTimeRunning, .id]

  /// Opens every group on every target.
  public init(groups specGroups: [EventGroup], targets: [EventTarget], options: CountingOptions) throws(SondeError) {
    self.events = specGroups.flatMap(\.events)
    self.targets = targets
    self.status = Array(repeating: .counting, count: events.count)
    var firstIndex = 0
    var indexRanges: [Range<Int>] = []
    for group in specGroups {
      indexRanges.append(firstIndex..<(firstIndex + group.events.count))
      firstIndex += group.events.count
    }
    for target in targets {
      for (groupIndex, group) in specGroups.enumerated() {
        let useGroupRead = group.isExplicitGroup && group.events.count > 1
        var open = OpenGroup(members: [], groupRead: useGroupRead)
        for (offset, spec) in group.events.enumerated() {
          let eventIndex = indexRanges[groupIndex].lowerBound + offset
          if case .notSupported = status[eventIndex] { continue }
          let leader = open.members.first?.fd
          var attr = spec.attributes()
          attr.read_format = (useGroupRead ? Self.baseFormat.union(.group) : Self.baseFormat).rawValue
          attr.inherit = options.inherit && !target.isSystemWide ? 1 : 0
          if leader == nil {
            attr.disabled = options.startDisabled || options.enableOnExec ? 1 : 0
            attr.enable_on_exec = options.enableOnExec ? 1 : 0
          }
          do {
            let fd = try PerfEventFD.open(attr, target: target, group: leader, label: spec.name)
            if fd.fellBackToUserSpace { userSpaceOnly.insert(eventIndex) }
            open.members.append((eventIndex, fd))
          } catch  where error.kind == .notSupported {
            status[eventIndex] = .notSupported(error.reason)
          }
        }
        if !open.members.isEmpty { groups.append(open) }
      }
    }
  }

  deinit { close() }

  /// Closes every descriptor.
  public func close() {
    for group in groups { for member in group.members { member.fd.close() } }
    groups.removeAll()
  }

  /// Starts counting (group leaders enable their members).
  public func enable() throws(SondeError) {
    for group in groups { try group.members[0].fd.enable(group: true) }
  }

  /// Stops counting.
  public func disable() throws(SondeError) {
    for group in groups { try group.members[0].fd.disable(group: true) }
  }

  /// Zeroes the counts.
  public func reset() throws(SondeError) {
    for group in groups { try group.members[0].fd.reset(group: true) }
  }

  /// Reads every counter and sums each event over all targets. Events that are not supported, or not
  /// open on any target, have no reading.
  public func read() throws(SondeError) -> [CounterReading?] {
    var totals = [CounterReading?](repeating: nil, count: events.count)
    var buffer = [UInt8](repeating: 0, count: 8 * (4 + 3 * Swift.max(1, events.count)))
    for group in groups {
      if group.groupRead {
        let format = Self.baseFormat.union(.group)
        let values = try readValues(group.members[0].fd, format: format, members: group.members.count, into: &buffer)
        // Entries come in the order members were added to the group, which is our members order.
        for (position, member) in group.members.enumerated() where position < values.entries.count {
          totals[member.eventIndex] = (totals[member.eventIndex] ?? .zero) + values.reading(position)
        }
      } else {
        for member in group.members {
          let values = try readValues(member.fd, format: Self.baseFormat, members: 1, into: &buffer)
          totals[member.eventIndex] = (totals[member.eventIndex] ?? .zero) + values.reading(0)
        }
      }
    }
    return totals
  }

  private func readValues(_ fd: PerfEventFD, format: ReadFormat, members: Int, into buffer: inout [UInt8])
    throws(SondeError) -> ReadFormat.Values
  {
    let size = format.size(members: members)
    if buffer.count < size { buffer = [UInt8](repeating: 0, count: size) }
    let result: Result<ReadFormat.Values, SondeError> = buffer.withUnsafeMutableBytes { raw in
      do throws(SondeError) {
        let n = try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
        return .success(try format.parse(UnsafeRawBufferPointer(rebasing: raw[0..<n])).0)
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }
}
