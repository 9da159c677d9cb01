import Foundation
import Pprof
import PprofMessages
import SondeTestSupport
import Testing

/// The push path: every window reaches a loopback receiver that checks each request as Pyroscope's ingest
/// API defines it (`POST /ingest?name=APP{k=v}&from=S&until=S&format=pprof…`, the body a gzipped pprof
/// profile), including the windows made while the receiver was down for 30 s.
@Suite(.serialized) struct AgentPushTests {
  @Test func everyWindowArrivesThroughA30SecondOutage() throws {
    let dir = try TestSupport.temporaryDirectory("agent-push")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let receiver = try IngestReceiver()
    let port = receiver.port
    let agent = try AgentProcess(
      data: dir + "/data",
      arguments: AgentEndToEndTests.fast + ["--push-url", "http://127.0.0.1:\(port)", "--push-max-backoff", "2"])
    defer { agent.stop() }
    #expect(try eventually(30) { receiver.accepted.count >= 3 }, "log:\n\(agent.logText)")
    receiver.stop()
    let outageStart = Int64(Date().timeIntervalSince1970 * 1000)
    sleep(30)
    let outageEnd = Int64(Date().timeIntervalSince1970 * 1000)
    let restarted = try IngestReceiver(port: port)
    defer { restarted.stop() }
    // The windows made during the outage were queued on disk: they arrive once the receiver is back.
    #expect(try eventually(60) { restarted.accepted.count >= 30 }, "log:\n\(agent.logText)")
    let stored = try AgentEndToEndTests().windows(agent).dropLast()  // the last is the live window
    let arrived = Set((receiver.accepted + restarted.accepted).map(\.from))
    let storedStarts = stored.map { $0.start / 1000 }
    let missing = storedStarts.filter { !arrived.contains($0) }
    #expect(
      try eventually(30) {
        Set((receiver.accepted + restarted.accepted).map(\.from)).isSuperset(of: storedStarts)
      }, "windows never pushed (start seconds): \(missing)")
    #expect(receiver.problems.isEmpty && restarted.problems.isEmpty, "\(receiver.problems + restarted.problems)")
    let duringOutage = stored.filter { $0.start >= outageStart && $0.end <= outageEnd }
    #expect(duringOutage.count >= 25, "the agent stored \(duringOutage.count) windows during the 30 s outage")
  }
}

/// A loopback HTTP server that accepts Pyroscope ingest requests and records them; requests that do not
/// follow the API are answered 400 and listed in `problems`.
final class IngestReceiver: @unchecked Sendable {
  struct Request: Sendable {
    var application: String
    var labels: [String: String]
    var from: Int64
    var until: Int64
    var samples: Int
  }

  let port: UInt16
  private let listener: Int32
  private let lock = NSLock()
  private var _accepted: [Request] = []
  private var _problems: [String] = []
  private var thread: Thread?
  private var stopped = false

  var accepted: [Request] { lock.withLock { _accepted } }
  var problems: [String] { lock.withLock { _problems } }

  init(port requested: UInt16 = 0) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = requested.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      close(fd)
      throw HarnessError("receiver: bind/listen on \(requested) failed: errno \(errno)")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    port = UInt16(bigEndian: address.sin_port)
    listener = fd
    let thread = Thread { [self] in serve() }
    self.thread = thread
    thread.start()
  }

  func stop() {
    lock.withLock { stopped = true }
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
  }

  private func serve() {
    while !lock.withLock({ stopped }) {
      let connection = accept(listener, nil, nil)
      guard connection >= 0 else {
        if errno == EINTR { continue }
        return
      }
      handle(connection)
      close(connection)
    }
  }

  private func handle(_ fd: Int32) {
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    var headerEnd: Int?
    var contentLength = 0
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      guard n > 0 else { break }
      data += buffer[..<n]
      if headerEnd == nil, let end = find(data, Array("\r\n\r\n".utf8)) {
        headerEnd = end + 4
        let head = String(decoding: data[..<end], as: UTF8.self).lowercased()
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
          contentLength = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
        }
      }
      if let headerEnd, data.count >= headerEnd + contentLength { break }
    }
    guard let headerEnd else { return }
    let head = String(decoding: data[..<headerEnd], as: UTF8.self)
    let body = Array(data[headerEnd..<min(data.count, headerEnd + contentLength)])
    let (status, problem) = check(head, body)
    let answer = "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    _ = answer.withCString { write(fd, $0, strlen($0)) }
    if let problem { lock.withLock { _problems.append(problem) } }
  }

  /// Checks one request against Pyroscope's ingest API; records it when it follows it.
  private func check(_ head: String, _ body: [UInt8]) -> (Int, String?) {
    let requestLine = head.split(separator: "\r\n").first.map(String.init) ?? ""
    let parts = requestLine.split(separator: " ")
    guard parts.count == 3, parts[0] == "POST", parts[2].hasPrefix("HTTP/1.") else {
      return (400, "bad request line: \(requestLine)")
    }
    guard let components = URLComponents(string: String(parts[1])), components.path == "/ingest" else {
      return (404, "not /ingest: \(parts[1])")
    }
    var query: [String: String] = [:]
    for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
    // name = app{k=v,...}: the app name's characters and label syntax as Pyroscope's parser accepts them.
    guard let name = query["name"], let open = name.firstIndex(of: "{"), name.hasSuffix("}") else {
      return (400, "name is not app{labels}: \(query["name"] ?? "missing")")
    }
    let application = String(name[..<open])
    let appCharacters = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_.-/"))
    guard !application.isEmpty, application.unicodeScalars.allSatisfy(appCharacters.contains) else {
      return (400, "bad application name \(application)")
    }
    var labels: [String: String] = [:]
    for pair in name[name.index(after: open)..<name.index(before: name.endIndex)].split(separator: ",") {
      let kv = pair.split(separator: "=", maxSplits: 1)
      guard kv.count == 2, !kv[0].isEmpty,
        kv[0].unicodeScalars.allSatisfy(CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_.")).contains)
      else { return (400, "bad label \(pair)") }
      labels[String(kv[0])] = String(kv[1])
    }
    guard let from = query["from"].flatMap({ Int64($0) }), let until = query["until"].flatMap({ Int64($0) }),
      from > 1_600_000_000, until > from
    else { return (400, "from/until are not unix seconds with from < until: \(query)") }
    guard query["format"] == "pprof" else { return (400, "format is not pprof: \(query)") }
    guard Gzip.isGzip(body), let profile = try? Perftools_Profiles_Profile(pprofFile: body) else {
      return (400, "the body is not a gzipped pprof profile (\(body.count) bytes)")
    }
    let request = Request(
      application: application, labels: labels, from: from, until: until, samples: profile.sample.count)
    lock.withLock { _accepted.append(request) }
    return (200, nil)
  }

  private func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for i in 0...(haystack.count - needle.count) where Array(haystack[i..<i + needle.count]) == needle { return i }
    return nil
  }
}
