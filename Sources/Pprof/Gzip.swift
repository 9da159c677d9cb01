import CZlib

/// gzip streams (RFC 1952) through zlib: pprof files are gzipped protobuf.
public enum Gzip {
  /// zlib's window bits for a gzip wrapper rather than a raw zlib stream.
  private static let gzipWindowBits: Int32 = 15 + 16

  public enum Failure: Error, CustomStringConvertible, Equatable {
    /// zlib reported an error (its code and message).
    case zlib(code: Int32, message: String)
    /// The decompressed data would exceed the caller's limit.
    case tooLarge(limit: Int)
    /// The input ended inside the stream.
    case truncated

    public var description: String {
      switch self {
      case .zlib(let code, let message): "gzip: zlib error \(code): \(message)"
      case .tooLarge(let limit): "gzip: decompressed data exceeds \(limit) bytes"
      case .truncated: "gzip: the data ends inside the compressed stream"
      }
    }
  }

  /// `bytes` compressed into one gzip member (zlib's default level).
  public static func compress(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
    var stream = z_stream()
    var status = deflateInit2_(
      &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzipWindowBits, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
      Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else { throw .zlib(code: status, message: "deflateInit2 failed") }
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
    var input = bytes
    let produced = input.withUnsafeMutableBufferPointer { source in
      output.withUnsafeMutableBufferPointer { sink -> Int in
        stream.next_in = source.baseAddress
        stream.avail_in = uInt(source.count)
        stream.next_out = sink.baseAddress
        stream.avail_out = uInt(sink.count)
        status = deflate(&stream, Z_FINISH)
        return sink.count - Int(stream.avail_out)
      }
    }
    guard status == Z_STREAM_END else { throw .zlib(code: status, message: message(stream)) }
    output.removeLast(output.count - produced)
    return output
  }

  /// The decompressed contents of gzip data (every member), refusing to produce more than `limit` bytes so
  /// a hostile file cannot exhaust memory.
  public static func decompress(_ bytes: [UInt8], limit: Int = 1 << 30) throws(Failure) -> [UInt8] {
    var stream = z_stream()
    var status = inflateInit2_(&stream, gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else { throw .zlib(code: status, message: "inflateInit2 failed") }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var input = bytes
    var failure: Failure?
    input.withUnsafeMutableBufferPointer { source in
      stream.next_in = source.baseAddress
      stream.avail_in = uInt(source.count)
      while true {
        let produced = chunk.withUnsafeMutableBufferPointer { sink -> Int in
          stream.next_out = sink.baseAddress
          stream.avail_out = uInt(sink.count)
          status = inflate(&stream, Z_NO_FLUSH)
          return sink.count - Int(stream.avail_out)
        }
        if output.count + produced > limit {
          failure = .tooLarge(limit: limit)
          return
        }
        output.append(contentsOf: chunk[..<produced])
        switch status {
        case Z_STREAM_END:
          // Concatenated members are one file (gzip(1) writes them that way when appending).
          guard stream.avail_in > 0 else { return }
          status = inflateReset(&stream)
          if status != Z_OK {
            failure = .zlib(code: status, message: message(stream))
            return
          }
        case Z_OK:
          continue
        case Z_BUF_ERROR where stream.avail_in == 0:
          failure = .truncated
          return
        default:
          failure = .zlib(code: status, message: message(stream))
          return
        }
      }
    }
    if let failure { throw failure }
    return output
  }

  /// Whether `bytes` start with gzip's magic number.
  public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b }

  private static func message(_ stream: z_stream) -> String {
    stream.msg.map { String(cString: $0) } ?? "no message"
  }
}
