import SondeSystem

/// A tracepoint's record layout, from tracefs `events/SUBSYSTEM/EVENT/format`: each field's C type, name,
/// offset, size and signedness. It decodes raw records (perf samples' raw data, BPF copies of the record)
/// by name and type: integers, fixed char arrays as strings, `__data_loc` strings and arrays, other arrays
/// as lists of integers.
public struct TracepointFormat: Sendable, Hashable {
  public struct Field: Sendable, Hashable {
    /// The C declaration's type, e.g. `const char *`, `__data_loc char[]`, `char[16]`, `pid_t`.
    public var type: String
    public var name: String
    public var offset: Int
    public var size: Int
    public var isSigned: Bool
    /// `common_type`, `common_pid`, …: the header every record of every tracepoint starts with.
    public var isCommon: Bool { name.hasPrefix("common_") }
    /// A `__data_loc` field: 32 bits holding the offset (low 16) and length (high 16) of data after the
    /// fixed part of the record.
    public var isDynamic: Bool { type.hasPrefix("__data_loc") }
    /// Elements of a fixed array (`char comm[16]` is written `char comm[16]` in the name), 0 for scalars.
    public var arrayLength: Int
    /// A char array or a `__data_loc char[]`: decoded as a string.
    public var isString: Bool { (arrayLength > 0 || isDynamic) && type.contains("char") }
    /// A pointer (`const char * filename`): a user or kernel address, printed in hex.
    public var isPointer: Bool { type.contains("*") }
  }

  public var name: String
  public var id: UInt64
  public var fields: [Field]

  /// Fields after the common header, in record order: what `argN` numbers (0-based).
  public var arguments: [Field] { fields.filter { !$0.isCommon } }

  /// The bytes of the fixed part of a record (the end of its last field).
  public var fixedSize: Int { fields.map { $0.offset + $0.size }.max() ?? 0 }

  public func field(named name: String) -> Field? { fields.first { $0.name == name } }

  /// Reads and parses the format of `subsystem:event`.
  public static func load(subsystem: String, event: String) throws(SondeError) -> TracepointFormat {
    let operation = "read the format of tracepoint \(subsystem):\(event)"
    guard let root = TraceFS.root else { throw TraceFS.notMounted(operation) }
    let path = "\(root)/events/\(subsystem)/\(event)/format"
    guard let bytes = readFileBytes(path, limit: 1 << 20) else {
      throw SondeError(.invalidInput, operation: operation, reason: "\(path) cannot be read")
    }
    return try parse(String(decoding: bytes, as: UTF8.self), operation: operation)
  }

  /// Parses a format file's text.
  public static func parse(_ text: String, operation: String = "parse a tracepoint format")
    throws(SondeError) -> TracepointFormat
  {
    var name = ""
    var id: UInt64 = 0
    var fields: [Field] = []
    for raw in text.split(separator: "\n") {
      let line = raw.trimmingWhitespace()
      if line.hasPrefix("name:") { name = String(line.dropFirst(5)).trimmingWhitespace() }
      if line.hasPrefix("ID:") { id = UInt64(String(line.dropFirst(3)).trimmingWhitespace()) ?? 0 }
      guard line.hasPrefix("field:") else { continue }
      var declaration = ""
      var offset: Int?
      var size: Int?
      var signed = false
      for part in line.split(separator: ";") {
        let p = String(part).trimmingWhitespace()
        if p.hasPrefix("field:") { declaration = String(p.dropFirst(6)) }
        if p.hasPrefix("offset:") { offset = Int(p.dropFirst(7)) }
        if p.hasPrefix("size:") { size = Int(p.dropFirst(5)) }
        if p.hasPrefix("signed:") { signed = p.dropFirst(7) == "1" }
      }
      guard let offset, let size, offset >= 0, size >= 0, offset <= 1 << 16, size <= 1 << 16,
        let (type, fieldName, length) = splitDeclaration(declaration)
      else {
        throw SondeError(.corruptData, operation: operation, reason: "unreadable field line: \(line)")
      }
      fields.append(
        Field(type: type, name: fieldName, offset: offset, size: size, isSigned: signed, arrayLength: length))
    }
    guard !fields.isEmpty else {
      throw SondeError(.corruptData, operation: operation, reason: "the format lists no fields")
    }
    return TracepointFormat(name: name, id: id, fields: fields)
  }

  /// `unsigned long ip` → ("unsigned long", "ip", 0); `char comm[16]` → ("char[16]", "comm", 16);
  /// `__data_loc char[] name` → ("__data_loc char[]", "name", 0).
  static func splitDeclaration(_ text: String) -> (String, String, Int)? {
    let trimmed = text.trimmingWhitespace()
    guard let space = trimmed.lastIndex(where: { $0 == " " || $0 == "*" }) else { return nil }
    var name = String(trimmed[trimmed.index(after: space)...])
    var type = String(trimmed[...space]).trimmingWhitespace()
    var length = 0
    if let bracket = name.firstIndex(of: "["), name.hasSuffix("]") {
      let inside = name[name.index(after: bracket)..<name.index(before: name.endIndex)]
      length = Int(inside) ?? 0
      type += String(name[bracket...])
      name = String(name[..<bracket])
    }
    guard !name.isEmpty, !type.isEmpty else { return nil }
    return (type, name, length)
  }

  /// A decoded field value.
  public enum Value: Sendable, Hashable, CustomStringConvertible {
    case signed(Int64)
    case unsigned(UInt64)
    case pointer(UInt64)
    case string(String)
    case integers([Int64])
    /// The record is too short for the field, or a `__data_loc` points outside it.
    case missing

    public var description: String {
      switch self {
      case .signed(let v): String(v)
      case .unsigned(let v): String(v)
      case .pointer(let v): "0x" + String(v, radix: 16)
      case .string(let s): s
      case .integers(let list): "[" + list.map(String.init).joined(separator: ",") + "]"
      case .missing: "?"
      }
    }
  }

  /// The value of `field` in `record` (bounds-checked: a short or hostile record gives `.missing`).
  public func value(of field: Field, in record: UnsafeRawBufferPointer) -> Value {
    func integer(at offset: Int, size: Int, signed: Bool) -> Value? {
      guard offset >= 0, size > 0, offset <= record.count - size else { return nil }
      var raw: UInt64 = 0
      for i in 0..<min(size, 8) { raw |= UInt64(record[offset + i]) << (8 * UInt64(i)) }
      guard signed, size < 8 else { return signed ? .signed(Int64(bitPattern: raw)) : .unsigned(raw) }
      let shift = UInt64(64 - 8 * size)
      return .signed(Int64(bitPattern: raw << shift) >> Int64(shift))
    }
    func text(from start: Int, count: Int) -> Value {
      guard start >= 0, count >= 0, start <= record.count, count <= record.count - start else { return .missing }
      let bytes = record[start..<(start + count)]
      let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
      return .string(String(decoding: record[start..<end], as: UTF8.self))
    }
    if field.isDynamic {
      guard case .unsigned(let loc)? = integer(at: field.offset, size: 4, signed: false) else { return .missing }
      let start = Int(loc & 0xffff)
      let length = Int(loc >> 16)
      if field.isString { return text(from: start, count: length) }
      let element = max(1, elementSize(field.type))
      guard start <= record.count, length <= record.count - start else { return .missing }
      return .integers(
        stride(from: start, to: start + length - element + 1, by: element).map {
          if case .signed(let v)? = integer(at: $0, size: element, signed: true) { return v }
          return 0
        })
    }
    if field.isString { return text(from: field.offset, count: field.size) }
    if field.arrayLength > 0 {
      let element = max(1, field.size / field.arrayLength)
      return .integers(
        (0..<field.arrayLength).map { i in
          if case .signed(let v)? = integer(at: field.offset + i * element, size: element, signed: field.isSigned) {
            return v
          }
          if case .unsigned(let v)? = integer(at: field.offset + i * element, size: element, signed: false) {
            return Int64(bitPattern: v)
          }
          return 0
        })
    }
    guard let v = integer(at: field.offset, size: field.size, signed: field.isSigned) else { return .missing }
    if field.isPointer, case .unsigned(let address) = v { return .pointer(address) }
    return v
  }

  /// Bytes of one element of a `__data_loc TYPE[]` field, from its type name.
  private func elementSize(_ type: String) -> Int {
    if type.contains("long") || type.contains("64") { return 8 }
    if type.contains("int") || type.contains("32") { return 4 }
    if type.contains("short") || type.contains("16") { return 2 }
    return 1
  }
}
