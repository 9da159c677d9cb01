import Prometheus
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The agent's Prometheus metrics (`/metrics`): what it sampled, lost and dropped (by reason), what it
/// stored and pushed, and what it costs (its CPU and resident memory). Per-process sample counts are
/// labelled by comm, at most `processLimit` distinct values; later ones count under comm="other", so a
/// busy host cannot blow up the series count.
final class AgentMetrics: @unchecked Sendable {
  let registry = PrometheusCollectorRegistry()
  private let samples: Counter
  private let windows: Counter
  private let pushed: Counter
  private let pushFailures: Counter
  private let pushRejected: Counter
  private let pushDropped: Counter
  private let pushQueue: Gauge
  private let cpuSeconds: Counter
  private let resident: Gauge
  private let storeBytes: Gauge
  private let processLimit: Int
  private let state = Locked(State())
  private struct State {
    var lost: [String: Counter] = [:]
    var processes: [String: Counter] = [:]
    var cpuTicksReported: UInt64 = 0
    var pushDroppedReported: UInt64 = 0
  }

  /// What `samples` and the per-comm counters count.
  private let unit: (name: String, help: String)

  init(kind: ProfileKind = .cpu, processLimit: Int = 50) {
    self.processLimit = processLimit
    let unit = kind == .cpu ? ("samples", "Samples") : ("off_cpu_nanoseconds", "Nanoseconds blocked off-CPU")
    self.unit = unit
    let registry = self.registry
    func counter(_ name: String, _ help: String) -> Counter {
      registry.makeCounter(
        descriptor: MetricNameDescriptor(namespace: "sonde_agent", metricName: name, unitName: "total", helpText: help))
    }
    func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
      registry.makeGauge(
        descriptor: MetricNameDescriptor(namespace: "sonde_agent", metricName: name, unitName: unit, helpText: help))
    }
    samples = counter(unit.0, kind == .cpu ? "CPU samples stored" : "Nanoseconds blocked off-CPU stored")
    windows = counter("windows", "Profile windows written to the store")
    pushed = counter("push_delivered_windows", "Windows the push backend accepted")
    pushFailures = counter("push_failed_attempts", "Push attempts that failed and will be retried")
    pushRejected = counter("push_rejected_windows", "Windows the push backend refused (4xx) and were dropped")
    pushDropped = counter("push_dropped_windows", "Windows dropped because the push queue was full")
    pushQueue = gauge("push_queue", "windows", "Windows waiting to be pushed")
    cpuSeconds = registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "sonde_agent", metricName: "cpu", unitName: "seconds_total", helpText: "CPU time the agent used"))
    resident = gauge("resident_memory", "bytes", "Resident memory of the agent")
    storeBytes = gauge("store", "bytes", "Size of the profile store on disk")
  }

  /// Counts one stored window.
  func recordWindow(_ slice: AgentSlice, byComm: [String: UInt64]) {
    windows.increment()
    samples.increment(by: Int64(clamping: slice.sampleCount))
    state.withLock { s in
      for (reason, n) in slice.lost where n > 0 {
        let c =
          s.lost[reason]
          ?? registry.makeCounter(
            descriptor: MetricNameDescriptor(
              namespace: "sonde_agent", metricName: "lost_samples", unitName: "total",
              helpText: "Samples lost or dropped, by reason"), labels: [("reason", reason)])
        s.lost[reason] = c
        c.increment(by: Int64(clamping: n))
      }
      for (comm, n) in byComm {
        let key = s.processes[comm] != nil || s.processes.count < processLimit ? comm : "other"
        let c =
          s.processes[key]
          ?? registry.makeCounter(
            descriptor: MetricNameDescriptor(
              namespace: "sonde_agent", metricName: "process_" + unit.name, unitName: "total",
              helpText: "\(unit.help) per process comm (at most \(processLimit) comms, then other)"),
            labels: [("comm", key)])
        s.processes[key] = c
        c.increment(by: Int64(clamping: n))
      }
    }
  }

  func recordPush(delivered: Bool = false, failed: Bool = false, rejected: Bool = false) {
    if delivered { pushed.increment() }
    if failed { pushFailures.increment() }
    if rejected { pushRejected.increment() }
  }

  /// Refreshes the gauges read at scrape time and renders the exposition text.
  func render(storeSize: UInt64, queue: Int, queueDropped: UInt64) -> [UInt8] {
    storeBytes.set(to: Double(storeSize))
    pushQueue.set(to: Double(queue))
    if let rss = procStatusField("VmRSS").flatMap({ $0.split(separator: " ").first }).flatMap({ Double($0) }) {
      resident.set(to: rss * 1024)
    }
    let ticks = processCPUTicks(pid: getpid()) ?? 0
    let perSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
    state.withLock { s in
      if ticks > s.cpuTicksReported {
        cpuSeconds.increment(by: Double(ticks - s.cpuTicksReported) / perSecond)
        s.cpuTicksReported = ticks
      }
      if queueDropped > s.pushDroppedReported {
        pushDropped.increment(by: Int64(clamping: queueDropped - s.pushDroppedReported))
        s.pushDroppedReported = queueDropped
      }
    }
    return registry.emitToBuffer()
  }
}
