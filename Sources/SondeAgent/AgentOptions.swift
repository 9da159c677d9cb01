import SondeBPFEngines
import SondeSystem

/// How `sonde agent` runs: what it samples, how windows are kept, where it listens and pushes.
public struct AgentOptions: Sendable {
  /// What the agent measures, as its store, pushes and metrics name it.
  public var profileKind: ProfileKind { offCPU ? .offCPU : .cpu }

  /// Samples per second per CPU (default 19: a few samples a second per core, always-on cheap).
  public var frequency: UInt64 = 19
  /// Off-CPU instead of CPU: the time threads spend blocked, per stack, in nanoseconds (sched_switch).
  /// A data directory holds one kind; run a second agent (another --data and --listen) for both.
  public var offCPU = false
  /// Off-CPU: waits shorter than this many microseconds are counted and left out.
  public var minimumBlockMicroseconds: UInt64 = 1000
  /// Seconds per stored window.
  public var windowSeconds: Double = 10
  /// Seconds between drains of the kernel's aggregates (the live view's resolution): two, or the window
  /// when shorter. Each drain costs a fixed amount (map reads, a symbolized slice): at 19 Hz, drains every
  /// two seconds instead of one took the agent from 0.111% to 0.088% of a core (BENCHMARKS.md).
  public var sliceSeconds: Double { min(2, windowSeconds) }
  /// The store's directory.
  public var dataDirectory = "/var/lib/sonde-agent"
  /// HOST:PORT of the HTTP server (port 0: any free port, written to DATA/agent.address).
  public var listen = "127.0.0.1:6060"
  /// A file holding the bearer token every request must carry; required to listen off loopback.
  public var tokenFile: String?
  /// Pyroscope-compatible ingest base URL (http://HOST:PORT); nil: no push.
  public var pushURL: String?
  /// Windows the push queue keeps on disk before dropping the oldest.
  public var pushQueueCapacity = 1000
  /// Longest wait between push retries, seconds.
  public var pushMaxBackoff: Double = 10
  /// Retention: windows older than this many seconds are deleted.
  public var retentionSeconds: Double = 7 * 86400
  /// Retention: the store is kept under this many bytes (oldest windows go first).
  public var maxStoreBytes: UInt64 = 1 << 30
  /// Windows older than this many seconds are merged into minute windows (and at six times it, ten-minute).
  public var compactAfterSeconds: Double = 3600
  /// How user stacks are walked.
  public var unwind: ProfilerOptions.Unwind = .fp
  /// The host label of pushed profiles (default: the host name).
  public var hostLabel: String?

  public init() {}

  /// Applies a config file: one `key = value` per line (the long flag names without dashes), `#` comments.
  /// Unknown keys and bad values are errors naming the line.
  public mutating func apply(configFile path: String) throws(SondeError) {
    guard let bytes = readFileBytes(path, limit: 1 << 20) else {
      throw SondeError.invalid("agent --config \(path)", "cannot read it (missing, not a regular file, or over 1 MiB)")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
      guard !line.trimmingWhitespace().isEmpty else { continue }
      guard let equals = line.firstIndex(of: "=") else {
        throw SondeError.invalid("agent --config \(path):\(number + 1)", "expected key = value")
      }
      let key = line[..<equals].trimmingWhitespace()
      let value = line[line.index(after: equals)...].trimmingWhitespace()
      try set(key, value, where: "\(path):\(number + 1)")
    }
  }

  private mutating func set(_ key: String, _ value: String, where place: String) throws(SondeError) {
    func bad() -> SondeError { SondeError.invalid("agent --config \(place)", "bad value '\(value)' for \(key)") }
    switch key {
    case "freq", "frequency": frequency = try UInt64(value).where { $0 > 0 }.orThrow(bad())
    case "window": windowSeconds = try Double(value).where { $0 >= 1 }.orThrow(bad())
    case "data": dataDirectory = value
    case "listen": listen = value
    case "token-file": tokenFile = value
    case "push-url": pushURL = value
    case "push-queue": pushQueueCapacity = try Int(value).where { $0 > 0 }.orThrow(bad())
    case "push-max-backoff": pushMaxBackoff = try Double(value).where { $0 > 0 }.orThrow(bad())
    case "retention": retentionSeconds = try Double(value).where { $0 > 0 }.orThrow(bad())
    case "max-store-mb": maxStoreBytes = try UInt64(value).where { $0 > 0 && $0 <= 1 << 30 }.orThrow(bad()) << 20
    case "compact-after": compactAfterSeconds = try Double(value).where { $0 > 0 }.orThrow(bad())
    case "unwind": unwind = try ProfilerOptions.Unwind(rawValue: value).orThrow(bad())
    case "off-cpu": offCPU = try ["true": true, "false": false][value].orThrow(bad())
    case "min-block": minimumBlockMicroseconds = try UInt64(value).orThrow(bad())
    case "host-label": hostLabel = value
    default:
      throw SondeError.invalid(
        "agent --config \(place)", "unknown key '\(key)'",
        remedy:
          "keys: freq, window, data, listen, token-file, push-url, push-queue, push-max-backoff, retention, "
          + "max-store-mb, compact-after, unwind, off-cpu, min-block, host-label")
    }
  }

  /// Checks every value, however it was given (flags or the config file): finite, in a sane range, so no
  /// later arithmetic on it can trap or turn negative.
  public func validate() throws(SondeError) {
    func check(_ ok: Bool, _ flag: String, _ range: String) throws(SondeError) {
      if !ok { throw SondeError.invalid("agent --\(flag)", "must be \(range)") }
    }
    try check((1...100_000).contains(frequency), "freq", "1 to 100000 Hz")
    try check(minimumBlockMicroseconds <= 3_600_000_000, "min-block", "at most an hour (3600000000 µs)")
    if offCPU && unwind != .fp {
      throw SondeError.invalid("agent --off-cpu", "off-CPU stacks are frame-pointer stacks", remedy: "drop --unwind")
    }
    try check(windowSeconds.isFinite && (1...3600).contains(windowSeconds), "window", "1 to 3600 seconds")
    try check(
      retentionSeconds.isFinite && (60...3.2e8).contains(retentionSeconds), "retention", "60 s to ten years")
    try check(
      compactAfterSeconds.isFinite && (60...3.2e8).contains(compactAfterSeconds), "compact-after",
      "60 s to ten years")
    try check(maxStoreBytes >= 1 << 20 && maxStoreBytes <= 1 << 50, "max-store-mb", "1 MiB to 1 PiB")
    try check(pushMaxBackoff.isFinite && (0.1...3600).contains(pushMaxBackoff), "push-max-backoff", "0.1 to 3600 s")
    try check((1...1_000_000).contains(pushQueueCapacity), "push-queue", "1 to 1000000 windows")
    _ = try listenAddress()
  }

  /// The listen address split into host and port; an error when malformed.
  public func listenAddress() throws(SondeError) -> (host: String, port: Int) {
    guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
      (0...65535).contains(port)
    else {
      throw SondeError.invalid("agent --listen \(listen)", "expected HOST:PORT")
    }
    var host = String(listen[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host.isEmpty ? "0.0.0.0" : host, port)
  }

  /// Whether `host` only accepts connections from this machine.
  public static func isLoopback(_ host: String) -> Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
  }
}

extension Optional {
  /// The value when it satisfies `condition`, else nil.
  fileprivate func `where`(_ condition: (Wrapped) -> Bool) -> Wrapped? {
    flatMap { condition($0) ? $0 : nil }
  }

  fileprivate func orThrow(_ error: @autoclosure () -> SondeError) throws(SondeError) -> Wrapped {
    guard let self else { throw error() }
    return self
  }
}
