import PerfEvents
import Testing

/// tracefs format files parsed and records decoded by field name and type, bounds-checked.
struct TracepointFormatTests {
  static let exec = """
    name: sched_process_exec
    ID: 365
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
    \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

    \tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
    \tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
    \tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;

    print fmt: "filename=%s pid=%d", __get_str(filename), REC->pid
    """

  @Test func fieldsAndArgumentsAreParsed() throws {
    let f = try TracepointFormat.parse(Self.exec)
    #expect(f.name == "sched_process_exec" && f.id == 365)
    #expect(f.arguments.map(\.name) == ["filename", "pid", "comm"])
    #expect(f.field(named: "filename")?.isDynamic == true && f.field(named: "filename")?.isString == true)
    #expect(f.field(named: "comm").map { ($0.arrayLength, $0.isString) } ?? (0, false) == (16, true))
    #expect(f.field(named: "pid")?.isSigned == true)
    #expect(f.fixedSize == 32)
  }

  @Test func recordsDecodeByNameAndType() throws {
    let f = try TracepointFormat.parse(Self.exec)
    var record = [UInt8](repeating: 0, count: 48)
    let name = Array("/bin/true".utf8) + [0]
    // __data_loc: offset 32 in the low 16 bits, length in the high 16.
    let loc = UInt32(32) | UInt32(name.count) << 16
    for i in 0..<4 { record[8 + i] = UInt8(truncatingIfNeeded: loc >> (8 * UInt32(i))) }
    for i in 0..<4 { record[12 + i] = 0xff }  // pid -1
    for (i, c) in "true".utf8.enumerated() { record[16 + i] = c }
    for (i, c) in name.enumerated() { record[32 + i] = c }
    record.withUnsafeBytes { raw in
      #expect(f.value(of: f.field(named: "filename")!, in: raw) == .string("/bin/true"))
      #expect(f.value(of: f.field(named: "pid")!, in: raw) == .signed(-1))
      #expect(f.value(of: f.field(named: "comm")!, in: raw) == .string("true"))
    }
    // A hostile __data_loc pointing past the record, and a short record, decode as missing.
    for i in 0..<4 { record[8 + i] = 0xff }
    record.withUnsafeBytes { raw in #expect(f.value(of: f.field(named: "filename")!, in: raw) == .missing) }
    Array(record.prefix(10)).withUnsafeBytes { raw in #expect(f.value(of: f.field(named: "pid")!, in: raw) == .missing)
    }
  }

  @Test func unreadableFormatsAreErrors() {
    #expect(throws: (any Error).self) { try TracepointFormat.parse("name: x\nformat:\n") }
    #expect(throws: (any Error).self) { try TracepointFormat.parse("\tfield:int;\toffset:x;\tsize:4;\tsigned:1;") }
  }
}
