/// The protobuf wire format, as much of it as pprof's messages use: varint fields (int64, uint64, bool),
/// length-delimited fields (strings, nested messages) and packed repeated varints.
///
/// Sonde writes pprof with this rather than through swift-protobuf's generated messages: the always-on
/// agent writes pprof too, and swift-protobuf's `import Foundation` makes every program that links it
/// load Foundation and ICU (8 MB of the agent's resident memory). Decoding, which only tests do, still
/// goes through the generated messages (`PprofMessages`), so a second implementation checks this one.
struct ProtobufWriter {
  private(set) var bytes: [UInt8] = []

  /// Wire types (protobuf encoding, "Message Structure").
  private static let varintType: UInt64 = 0
  private static let lengthDelimitedType: UInt64 = 2

  /// A varint field; proto3 leaves out a field at its default (0), as here.
  mutating func varint(_ field: UInt64, _ value: UInt64) {
    guard value != 0 else { return }
    appendVarint(field << 3 | Self.varintType)
    appendVarint(value)
  }

  /// An int64 field: negative values are their two's complement, ten bytes long.
  mutating func int64(_ field: UInt64, _ value: Int64) { varint(field, UInt64(bitPattern: value)) }

  mutating func bool(_ field: UInt64, _ value: Bool) { varint(field, value ? 1 : 0) }

  /// A string field, written even when empty (pprof's string table starts with "").
  mutating func string(_ field: UInt64, _ value: String) {
    var value = value
    value.withUTF8 { lengthDelimited(field, $0) }
  }

  /// A packed repeated varint field (left out when empty).
  mutating func packed(_ field: UInt64, _ values: some Collection<UInt64>) {
    guard !values.isEmpty else { return }
    var body = ProtobufWriter()
    for value in values { body.appendVarint(value) }
    body.bytes.withUnsafeBufferPointer { lengthDelimited(field, $0) }
  }

  /// A nested message field, written even when empty (a present message differs from an absent one).
  mutating func message(_ field: UInt64, _ write: (inout ProtobufWriter) -> Void) {
    var body = ProtobufWriter()
    write(&body)
    body.bytes.withUnsafeBufferPointer { lengthDelimited(field, $0) }
  }

  private mutating func lengthDelimited(_ field: UInt64, _ payload: UnsafeBufferPointer<UInt8>) {
    appendVarint(field << 3 | Self.lengthDelimitedType)
    appendVarint(UInt64(payload.count))
    bytes.append(contentsOf: payload)
  }

  private mutating func appendVarint(_ value: UInt64) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }
}
