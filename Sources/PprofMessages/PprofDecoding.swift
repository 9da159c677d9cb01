import SwiftProtobuf
import Pprof

extension Perftools_Profiles_Profile {
  /// A profile from the bytes of a pprof file, gzipped (`.pb.gz`) or not, decompressing at most `limit`
  /// bytes so that a hostile file cannot exhaust memory.
  public init(pprofFile bytes: [UInt8], limit: Int = 1 << 30) throws {
    let raw = Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, limit: limit) : bytes
    try self.init(serializedBytes: raw)
  }

  /// The string at `index` of the string table, or nil when the index is out of range.
  public func string(_ index: Int64) -> String? {
    index >= 0 && index < stringTable.count ? stringTable[Int(index)] : nil
  }
}
