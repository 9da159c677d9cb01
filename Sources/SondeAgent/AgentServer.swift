import Hummingbird
import Logging
import ServiceLifecycle
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// The agent's HTTP server: the web UI, its JSON API, pprof (Go's `/debug/pprof/profile?seconds=N`, which
/// Parca and `go tool pprof` fetch, and `/api/v1/profile` for a stored range) and Prometheus `/metrics`.
/// With a token, every request must carry it (`Authorization: Bearer TOKEN`, or the `sonde_token` cookie
/// the UI gets from `/?token=TOKEN`); else the answer is 401.
public enum AgentServer {
  /// Longest `seconds` of a /debug/pprof/profile request (the live slices hold five minutes).
  static let maxProfileSeconds = Int(Agent.liveSeconds) - 10

  /// The routes. With a token every request must carry it; without one (loopback only) the Host header
  /// must name a loopback address, so a web page elsewhere cannot read the agent by rebinding its DNS name.
  public static func router(agent: Agent, token: String?) -> Router<BasicRequestContext> {
    let router = Router()
    if let token {
      router.add(middleware: TokenCheck(token: token))
    } else {
      router.add(middleware: LoopbackHostCheck())
    }
    router.get("/") { _, _ in
      html(AgentPage.html)
    }
    router.get("/metrics") { _, _ in
      Response(
        status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: agent.metricsText())))
    }
    router.get("/api/v1/timeline") { request, _ in
      let (from, to) = try range(request, defaultSeconds: 3600)
      return json(AgentExport.timelineJSON(try await agent.timeline(from: from, to: to), now: wallClockNanoseconds()))
    }
    router.get("/api/v1/stacks") { request, _ in
      let (from, to) = try range(request, defaultSeconds: 60)
      let profile = try await agent.profile(from: from, to: to, filter: try filter(request))
      let limit = request.uri.queryParameters.get("limit", as: Int.self).map { min(max(1, $0), 100_000) } ?? 20_000
      return json(AgentExport.stacksJSON(profile, limit: limit))
    }
    router.get("/api/v1/processes") { request, _ in
      let (from, to) = try range(request, defaultSeconds: 60)
      let profile = try await agent.profile(from: from, to: to, filter: try filter(request))
      return json(AgentExport.processesJSON(profile, limit: 500))
    }
    router.get("/api/v1/profile") { request, _ in
      let (from, to) = try range(request, defaultSeconds: 60)
      return pprof(try AgentExport.pprof(try await agent.profile(from: from, to: to, filter: try filter(request))))
    }
    router.get("/debug/pprof/profile") { request, _ in
      let seconds = request.uri.queryParameters.get("seconds", as: Int.self) ?? 30
      guard (1...maxProfileSeconds).contains(seconds) else {
        throw HTTPError(.badRequest, message: "seconds must be 1 to \(maxProfileSeconds)\n")
      }
      let selection = try filter(request)
      let since = wallClockNanoseconds()
      // Samples of the next `seconds` seconds, and the drain that holds their last second; a shutdown
      // answers at once with what there is, so it does not wait for the request.
      try? await cancelWhenGracefulShutdown {
        try await Task.sleep(for: .milliseconds(seconds * 1000 + Int(agent.options.sliceSeconds * 1000) + 200))
      }
      return pprof(try AgentExport.pprof(agent.liveProfile(since: since, filter: selection)))
    }
    return router
  }

  /// [from, to) in nanoseconds from the `from` and `to` query parameters (milliseconds since the epoch);
  /// without them the last `defaultSeconds` seconds.
  static func range(_ request: Request, defaultSeconds: Int64) throws -> (Int64, Int64) {
    let now = wallClockNanoseconds()
    let parameters = request.uri.queryParameters
    // Milliseconds since the epoch, up to the year 2262 (where nanoseconds leave Int64).
    let limit: Int64 = Int64.max / 1_000_000
    let to = parameters.get("to", as: Int64.self)
    let from = parameters.get("from", as: Int64.self)
    guard to.map({ (0...limit).contains($0) }) ?? true, from.map({ (0...limit).contains($0) }) ?? true else {
      throw HTTPError(.badRequest, message: "from and to are milliseconds since the epoch\n")
    }
    let end = to.map { $0 * 1_000_000 } ?? now
    let start = from.map { $0 * 1_000_000 } ?? max(0, end - defaultSeconds * 1_000_000_000)
    guard start < end else { throw HTTPError(.badRequest, message: "from must be before to\n") }
    return (start, end)
  }

  static func filter(_ request: Request) throws -> ProfileFilter {
    do {
      return try ProfileFilter(parsing: String(request.uri.queryParameters.get("filter") ?? ""))
    } catch {
      throw HTTPError(.badRequest, message: error.description + "\n")
    }
  }

  static func json(_ text: String) -> Response {
    Response(
      status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
      body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  static func html(_ text: String) -> Response {
    Response(
      status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
      body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  static func pprof(_ bytes: [UInt8]) -> Response {
    Response(
      status: .ok,
      headers: [
        .contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"profile.pb.gz\"",
      ],
      body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
  }
}

/// Refuses requests without the agent's token (401). The token may come as `Authorization: Bearer TOKEN`,
/// as the `sonde_token` cookie, or once as `?token=TOKEN` (the UI's entry link), which sets that cookie.
struct TokenCheck<Context: RequestContext>: RouterMiddleware {
  let token: String

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
    async throws -> Response
  {
    if let header = request.headers[.authorization], header.hasPrefix("Bearer "),
      Self.same(String(header.dropFirst(7)), token)
    {
      return try await next(request, context)
    }
    if let cookies = request.headers[.cookie] {
      for part in cookies.split(separator: ";") {
        let pair = part.trimmingWhitespace()
        if pair.hasPrefix("sonde_token="), Self.same(String(pair.dropFirst(12)), token) {
          return try await next(request, context)
        }
      }
    }
    if let query = request.uri.queryParameters.get("token"), Self.same(String(query), token) {
      var response = try await next(request, context)
      response.headers[.setCookie] = "sonde_token=\(token); HttpOnly; SameSite=Strict; Path=/"
      return response
    }
    return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"])
  }

  /// Compares in time independent of where the strings differ.
  static func same(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<min(x.count, y.count) { difference |= x[i] ^ y[i] }
    return difference == 0
  }
}

/// Without a token the agent answers only requests addressed to a loopback name (Host: 127.0.0.1:PORT,
/// localhost, [::1]): a page elsewhere that rebinds its own DNS name to 127.0.0.1 cannot read it (421).
struct LoopbackHostCheck<Context: RequestContext>: RouterMiddleware {
  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
    async throws -> Response
  {
    var host = Substring(request.head.authority ?? "")
    if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
      host = host[host.index(after: host.startIndex)..<close]
    } else if let colon = host.lastIndex(of: ":") {
      host = host[..<colon]
    }
    guard AgentOptions.isLoopback(String(host)) else {
      return Response(status: .misdirectedRequest)
    }
    return try await next(request, context)
  }
}
