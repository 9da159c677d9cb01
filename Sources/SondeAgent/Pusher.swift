import Profiles
import SondeSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Pushes queued windows, oldest first, to a Pyroscope-compatible ingest endpoint (`POST /ingest` with
/// `format=pprof`, the body the gzipped pprof file, the application name carrying the host label). A window
/// leaves the queue when the backend accepts it (2xx) or refuses that window itself (400, 413, 415, 422:
/// counted); on any other answer (a wrong URL's 404 or a missing credential's 401 included: those are the
/// backend's or the setup's, not the window's) or a connection failure it stays, and the pusher retries
/// with exponential backoff up to `maxBackoff` seconds. Runs on its own thread (its socket calls block).
final class Pusher: @unchecked Sendable {
  let queue: PushQueue
  let endpoint: HTTPPost.Endpoint
  /// Pyroscope's application name with labels: `sonde.cpu{host=NAME}` (`sonde.off_cpu` off-CPU).
  let applicationName: String
  /// The ingest query's rate and units: CPU samples at the frequency, or off-CPU nanoseconds.
  let rateAndUnits: String
  let maxBackoff: Double
  let metrics: AgentMetrics
  let log: @Sendable (String) -> Void

  init(
    queue: PushQueue, url: String, hostLabel: String, kind: ProfileKind, frequency: UInt64, maxBackoff: Double,
    metrics: AgentMetrics, log: @escaping @Sendable (String) -> Void
  ) throws(SondeError) {
    self.queue = queue
    endpoint = try HTTPPost.Endpoint(url: url)
    // Label values cannot be quoted in Pyroscope's name syntax: keep to the characters it accepts.
    let host = String(hostLabel.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    applicationName = "\(kind.applicationName){host=\(host)}"
    rateAndUnits = kind == .cpu ? "&sampleRate=\(frequency)&units=samples" : "&units=nanoseconds"
    self.maxBackoff = maxBackoff
    self.metrics = metrics
    self.log = log
  }

  /// The loop: returns once `thread` is stopped.
  func run(_ thread: BlockingThread) {
    var backoff = 1.0
    var lastError = ""
    while !thread.isStopped {
      guard let item = queue.items().first else {
        thread.token.wait(seconds: 1)
        continue
      }
      switch deliver(item) {
      case .gone:
        continue
      case .delivered:
        queue.remove(item)
        metrics.recordPush(delivered: true)
        backoff = 1
        if !lastError.isEmpty { log("push: the backend answers again") }
        lastError = ""
      case .rejected(let status):
        queue.remove(item)
        metrics.recordPush(rejected: true)
        log("push: the backend refused window \(item.start) with HTTP \(status); dropped")
      case .retry(let reason):
        metrics.recordPush(failed: true)
        if reason != lastError { log("push: \(reason); retrying with backoff") }
        lastError = reason
        thread.token.wait(seconds: backoff)
        backoff = min(maxBackoff, backoff * 2)
      }
    }
  }

  enum Outcome: Equatable {
    /// The file went (the queue's cap dropped it) before it could be read.
    case gone
    case delivered
    case rejected(Int)
    case retry(String)
  }

  func deliver(_ item: PushQueue.Item) -> Outcome {
    guard let body = queue.contents(item) else { return .gone }
    let query =
      "/ingest?name=\(Self.percentEncoded(applicationName))&from=\(item.start / 1_000_000_000)"
      + "&until=\(max(item.end / 1_000_000_000, item.start / 1_000_000_000 + 1))&format=pprof&spyName=sonde"
      + rateAndUnits + "&aggregationType=sum"
    do throws(SondeError) {
      let status = try HTTPPost.send(
        endpoint, pathAndQuery: query, body: body, contentType: "application/octet-stream")
      switch status {
      case 200..<300: return .delivered
      case 400, 413, 415, 422: return .rejected(status)
      default: return .retry("HTTP \(status)")
      }
    } catch {
      return .retry(error.reason)
    }
  }

  /// RFC 3986 percent-encoding of everything but unreserved characters.
  static func percentEncoded(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
        UInt8(ascii: "~"):
        bytes.append(byte)
      default:
        bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
