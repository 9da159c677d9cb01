import ArgumentParser
import Hummingbird
import Logging
import ServiceLifecycle
import SondeAgent
import SondeBPFEngines
import SondeSystem
import UnixSignals

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde agent` (the `sonde` command runs this executable, so `sonde stat` does not link a web server):
/// always-on system-wide CPU profiling into a local store, served over HTTP and pushed to a fleet backend.
@main
struct AgentCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sonde agent",
    abstract: "Profile the whole machine continuously; serve a web UI, pprof and Prometheus metrics.",
    discussion: """
      Samples every CPU at a low rate with a BPF program that aggregates in the kernel, keeps windows of
      samples in a SQLite store under --data, and serves:
        /                               the web UI (timeline, flame graph, search, top functions, diff)
        /debug/pprof/profile?seconds=N  pprof of the next N seconds (Parca, go tool pprof)
        /api/v1/profile?from=MS&to=MS   pprof of a stored range (also /api/v1/stacks, timeline, processes)
        /metrics                        Prometheus metrics
      Listening off loopback requires --token-file; every request then needs 'Authorization: Bearer TOKEN'.
      SIGTERM or SIGINT writes the window in progress and exits.

      Examples:
        sonde agent --data /var/lib/sonde-agent
        sonde agent --listen 0.0.0.0:6060 --token-file /etc/sonde/token --push-url http://pyroscope:4040
      """)

  @Option(name: .customLong("config"), help: "A file of key = value lines (the long option names) read first.")
  var configFile: String?
  @Option(name: [.customShort("F"), .customLong("freq")], help: "Samples per second per CPU (default 19).")
  var frequency: UInt64?
  @Option(name: .customLong("window"), help: "Seconds per stored window (default 10).")
  var window: Double?
  @Option(name: .customLong("data"), help: "The store's directory (default /var/lib/sonde-agent).")
  var data: String?
  @Option(name: .customLong("listen"), help: "HOST:PORT to serve on (default 127.0.0.1:6060; port 0: any).")
  var listen: String?
  @Option(name: .customLong("token-file"), help: "File holding the bearer token requests must carry.")
  var tokenFile: String?
  @Option(name: .customLong("push-url"), help: "Pyroscope-compatible ingest URL (http://HOST:PORT) to push windows.")
  var pushURL: String?
  @Option(name: .customLong("push-queue"), help: "Windows queued on disk for the push before the oldest is dropped.")
  var pushQueue: Int?
  @Option(name: .customLong("push-max-backoff"), help: "Longest wait between push retries, seconds (default 10).")
  var pushMaxBackoff: Double?
  @Option(name: .customLong("retention"), help: "Seconds of history to keep (default 604800, a week).")
  var retention: Double?
  @Option(name: .customLong("max-store-mb"), help: "Size cap of the store in MiB (default 1024).")
  var maxStoreMB: UInt64?
  @Option(name: .customLong("compact-after"), help: "Seconds after which windows merge into minutes (default 3600).")
  var compactAfter: Double?
  @Option(name: .customLong("unwind"), help: "User stacks: fp, dwarf or auto (default fp).")
  var unwind: String?
  @Flag(
    name: .customLong("off-cpu"),
    help: "Measure time blocked off-CPU per stack (nanoseconds) instead of CPU samples; one kind per --data.")
  var offCPU = false
  @Option(name: .customLong("min-block"), help: "Off-CPU: leave out waits shorter than this many µs (default 1000).")
  var minBlock: UInt64?
  @Option(name: .customLong("host-label"), help: "The host label of pushed profiles (default: the host name).")
  var hostLabel: String?
  @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
  var logLevel: String = "info"

  func options() throws(SondeError) -> AgentOptions {
    var o = AgentOptions()
    if let configFile { try o.apply(configFile: configFile) }
    if let frequency { o.frequency = frequency }
    if let window { o.windowSeconds = window }
    if let data { o.dataDirectory = data }
    if let listen { o.listen = listen }
    if let tokenFile { o.tokenFile = tokenFile }
    if let pushURL { o.pushURL = pushURL }
    if let pushQueue { o.pushQueueCapacity = pushQueue }
    if let pushMaxBackoff { o.pushMaxBackoff = pushMaxBackoff }
    if let retention { o.retentionSeconds = retention }
    if let maxStoreMB { o.maxStoreBytes = maxStoreMB.multipliedReportingOverflow(by: 1 << 20).partialValue }
    if let maxStoreMB, maxStoreMB > 1 << 30 { o.maxStoreBytes = UInt64.max }
    if let compactAfter { o.compactAfterSeconds = compactAfter }
    if let unwind {
      guard let u = ProfilerOptions.Unwind(rawValue: unwind) else {
        throw SondeError.invalid("agent --unwind \(unwind)", "expected fp, dwarf or auto")
      }
      o.unwind = u
    }
    if let hostLabel { o.hostLabel = hostLabel }
    if offCPU { o.offCPU = true }
    if let minBlock { o.minimumBlockMicroseconds = minBlock }
    try o.validate()
    return o
  }

  func run() async throws {
    signal(SIGPIPE, SIG_IGN)
    // A daemon that runs for weeks: two malloc arenas, not one per thread that ever allocated (glibc allows
    // 8 per CPU), so a drain's freed memory is reused by the next instead of lingering in another arena.
    Heap.limitArenas(2)
    var logger = Logger(label: "sonde.agent")
    logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
    do {
      try await serve(logger: logger)
    } catch let error as SondeError {
      let line = Array("sonde agent: error: \(error.description)\n".utf8)
      _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
      throw ExitCode(1)
    }
  }

  private func serve(logger: Logger) async throws {
    let options = try options()
    let (host, port) = try options.listenAddress()
    let token = try Self.token(options.tokenFile)
    if token == nil && !AgentOptions.isLoopback(host) {
      throw SondeError.invalid(
        "agent --listen \(options.listen)", "listening off loopback needs a token",
        remedy: "give --token-file FILE (a secret every request must carry), or listen on 127.0.0.1")
    }
    let log: @Sendable (String) -> Void = { logger.notice("\($0)") }
    let agent = try Agent(options: options, log: log)
    let addressFile = options.dataDirectory + "/agent.address"
    let server = AgentHTTPServer(
      router: AgentServer.router(agent: agent, token: token), address: .hostname(host, port: port),
      serverName: "sonde-agent", logger: logger,
      onServerRunning: { channel in
        let bound = "\(host):\(channel.localAddress?.port ?? port)"
        logger.notice("listening on http://\(bound)")
        try? writeFileAtomically(addressFile, Array((bound + "\n").utf8), mode: 0o644)
      })
    // Graceful shutdown stops services in reverse order: the collector first (it writes the window in
    // progress at once), then the pusher, then the HTTP server.
    var services: [any Service] = [server]
    if let pusher = agent.pusherService() { services.append(pusher) }
    services.append(CollectorService(agent: agent))
    let group = ServiceGroup(
      configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    logger.notice(
      "sampling every CPU at \(options.frequency) Hz, windows of \(options.windowSeconds) s in \(agent.store.path)")
    try await group.run()
  }

  /// The token in `path` (surrounding whitespace removed), nil without a file; an empty or unreadable
  /// file is an error.
  static func token(_ path: String?) throws(SondeError) -> String? {
    guard let path else { return nil }
    guard let bytes = readFileBytes(path, limit: 4096) else {
      throw SondeError.invalid(
        "agent --token-file \(path)", "cannot read it (missing, not a regular file or over 4 KiB)")
    }
    let token = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    // Characters a bearer token (RFC 6750) and a cookie value both allow.
    let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")
    guard !token.isEmpty, token.allSatisfy(allowed.contains) else {
      throw SondeError.invalid(
        "agent --token-file \(path)", "the token must be letters, digits and - . _ ~ + / = only (not empty)")
    }
    return token
  }
}
