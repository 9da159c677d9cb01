import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// The agent's HTTP server: its router served by HummingbirdCore's HTTP/1 server, as Hummingbird's
/// `Application` serves one, without `Application`'s date cache. That cache is a task that wakes every
/// second to format the `Date` header, whether or not anyone asks: it was a third of an idle agent's CPU
/// (56 of 155 samples of the agent at 999 Hz over 120 s). Here the header is made when a response is.
public struct AgentHTTPServer: Service {
  let responder: RouterResponder<BasicRequestContext>
  let address: BindAddress
  let serverName: String
  let logger: Logger
  let onServerRunning: @Sendable (any Channel) async -> Void

  public init(
    router: Router<BasicRequestContext>, address: BindAddress, serverName: String, logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void
  ) {
    responder = router.buildResponder()
    self.address = address
    self.serverName = serverName
    self.logger = logger
    self.onServerRunning = onServerRunning
  }

  public func run() async throws {
    let (responder, logger, serverName) = (responder, logger, serverName)
    let server = try HTTPServerBuilder.http1().buildServer(
      configuration: ServerConfiguration(address: address, serverName: serverName),
      eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
      responder: { request, writer, channel in
        let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
        var response: Response
        do {
          response = try await responder.respond(to: request, context: context)
        } catch {
          // The router answers the errors it knows (HTTPError) itself; anything else is a 500.
          logger.debug("request failed", metadata: ["error": "\(error)"])
          response = Response(status: .internalServerError)
        }
        response.headers[.date] = HTTPDate.format(secondsSinceEpoch: time(nil))
        response.headers[.server] = serverName
        try await writer.write(response: response.head, body: response.body)
      },
      onServerRunning: onServerRunning)
    try await server.run()
  }
}

/// HTTP's date format (RFC 9110, IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
  static func format(secondsSinceEpoch: Int) -> String {
    var seconds = secondsSinceEpoch
    var parts = tm()
    guard gmtime_r(&seconds, &parts) != nil else { return "" }
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) "
      + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
  }
}
