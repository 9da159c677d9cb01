import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// A minimal HTTP/1.1 POST over plain TCP, for pushing windows to an ingest URL (a Pyroscope server or the
/// local collector in front of it). One connection per request (`Connection: close`), bounded time and
/// response size; https is not spoken (put a TLS-terminating proxy on loopback in front of a remote backend).
struct HTTPPost {
  struct Endpoint: Sendable, Hashable {
    var host: String
    var port: UInt16
    /// The path prefix the URL gives ("" or "/prefix"), without a trailing slash.
    var basePath: String

    /// Parses `http://HOST[:PORT][/PATH]`.
    init(url: String) throws(SondeError) {
      guard url.hasPrefix("http://") else {
        throw SondeError.invalid(
          "agent --push-url \(url)", "only http:// URLs are supported",
          remedy: "point it at a loopback proxy that speaks https to the backend")
      }
      let rest = url.dropFirst(7)
      let slash = rest.firstIndex(of: "/") ?? rest.endIndex
      let authority = rest[..<slash]
      basePath = String(rest[slash...])
      while basePath.hasSuffix("/") { basePath.removeLast() }
      // HOST, HOST:PORT, [IPV6] or [IPV6]:PORT.
      let closing = authority.lastIndex(of: "]")
      if let colon = authority.lastIndex(of: ":"), closing == nil || colon > closing! {
        guard let p = UInt16(authority[authority.index(after: colon)...]), p > 0 else {
          throw SondeError.invalid("agent --push-url \(url)", "the port is not a number from 1 to 65535")
        }
        host = String(authority[..<colon])
        port = p
      } else {
        host = String(authority)
        port = 80
      }
      if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
      guard !host.isEmpty else { throw SondeError.invalid("agent --push-url \(url)", "no host") }
    }
  }

  /// Sends `body` to `endpoint` at `pathAndQuery` and returns the status code, or throws when the server
  /// cannot be reached or does not answer within `timeout` seconds.
  static func send(
    _ endpoint: Endpoint, pathAndQuery: String, body: [UInt8], contentType: String, timeout: Double = 10
  ) throws(SondeError) -> Int {
    let operation = "push to \(endpoint.host):\(endpoint.port)"
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
    guard status == 0, let first = list else {
      throw SondeError(.system, operation: operation, reason: "cannot resolve \(endpoint.host)")
    }
    defer { freeaddrinfo(list) }
    // Every address the name has, in the resolver's order, until one connects.
    var socket: FileDescriptor?
    var lastErrno: Int32 = 0
    var candidate: UnsafeMutablePointer<addrinfo>? = first
    while let address = candidate, socket == nil {
      candidate = address.pointee.ai_next
      let fd = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard fd >= 0 else {
        lastErrno = errno
        continue
      }
      let owned = FileDescriptor(owning: fd)
      var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
      if connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
        socket = owned
      } else {
        lastErrno = errno
      }
    }
    guard let socket else {
      throw SondeError(
        .system, operation: operation, errno: lastErrno, reason: "connect: \(errnoDescription(lastErrno))")
    }
    let fd = socket.rawValue
    let head =
      "POST \(endpoint.basePath)\(pathAndQuery) HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\n"
      + "User-Agent: sonde-agent/\(SondeVersion.string)\r\nContent-Type: \(contentType)\r\n"
      + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    let headBytes = Array(head.utf8)
    let sent = headBytes.withUnsafeBytes { h in
      body.withUnsafeBytes { b in socket.writeAll(segments: [h, b], "send") }
    }
    if let error = sent.1 { throw error }
    // The status line is all that is needed; read at most 64 KiB of the answer.
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while response.count < 65536 {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { break }
      response.append(contentsOf: chunk[..<n])
      if response.contains(10) { break }
    }
    let line = String(decoding: response.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
    let parts = line.split(separator: " ")
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
      throw SondeError(.system, operation: operation, reason: "no HTTP status line in the answer")
    }
    return code
  }
}
