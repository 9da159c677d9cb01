import Foundation
import PerfEvents
import Testing
import SondeSystem

/// `sonde record -e SYSTEM:EVENT` writes HEADER_TRACING_DATA, so perf names the tracepoint and decodes its
/// RAW fields from the format files Sonde copied out of tracefs.
@Suite(.serialized)
struct TracepointPerfScriptTests {
  /// getpid's syscall number: what `__syscall_nr` must decode to.
  #if arch(x86_64)
    static let getpidNumber = "39"
  #elseif arch(arm64)
    static let getpidNumber = "172"
  #endif
  static let event = "syscalls:sys_enter_getpid"

  @Test(.enabled(if: TraceFS.root != nil, "tracefs is not mounted"))
  func perfScriptAndReportDecodeTheTracepointSondeRecorded() throws {
    let dir = try ToolRunner.tempDirectory("tracepoint")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/tp.data"
    let rec = try ToolRunner.run([
      ToolRunner.sonde, "record", "-e", Self.event, "-o", file, "--", ToolRunner.demo, "getpid", "137",
    ])
    #expect(rec.status == 0, "\(rec.stderr)")
    let counts = try #require(ToolRunner.recordCounts(rec.stderr), "\(rec.stderr)")
    #expect(counts.samples == 137)

    // perf script names every sample (without the tracing data it refuses the file).
    let script = try ToolRunner.run(["perf", "script", "-i", file])
    #expect(script.status == 0, "\(script.stderr)")
    let lines = script.stdout.split(separator: "\n").filter { $0.contains("\(Self.event):") }
    #expect(lines.count == 137, "\(script.stdout.prefix(500))")
    #expect(lines.allSatisfy { $0.contains("sonde-demo") })

    // The event's print fmt is empty, so the decoded field shows through perf's generated script handler,
    // which perf builds from the format file Sonde wrote and fills from each sample's RAW bytes.
    let generated = try ToolRunner.run(["perf", "script", "-i", file, "-g", "python"], cwd: dir)
    #expect(generated.status == 0, "\(generated.stderr)")
    let handler = try String(contentsOfFile: dir + "/perf-script.py", encoding: .utf8)
    #expect(handler.contains("def syscalls__sys_enter_getpid("))
    #expect(handler.contains("__syscall_nr"))
    let fields = try ToolRunner.run(["perf", "script", "-i", file, "-s", dir + "/perf-script.py"], cwd: dir)
    #expect(fields.status == 0, "\(fields.stderr)")
    let decoded = fields.stdout.split(separator: "\n").filter {
      $0.hasPrefix("syscalls__sys_enter_getpid") && $0.contains("__syscall_nr=\(Self.getpidNumber)")
    }
    #expect(decoded.count == 137, "\(fields.stdout.prefix(500))")

    let report = try ToolRunner.run(["perf", "report", "--stdio", "-i", file])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("# Samples: 137  of event '\(Self.event)'"), "\(report.stdout.prefix(500))")

    let dump = try ToolRunner.run(["perf", "report", "-D", "-i", file])
    #expect(dump.status == 0, "\(dump.stderr)")
    #expect(dump.stdout.components(separatedBy: "PERF_RECORD_SAMPLE(").count - 1 == 137)
    let header = try ToolRunner.run(["perf", "report", "--header-only", "-i", file])
    #expect(header.status == 0, "\(header.stderr)")
    #expect(header.stdout.contains("name = \(Self.event)"))
  }

  /// Two subsystems, and fields perf prints through their print fmt: getpid's return value is the pid perf
  /// shows for the sample, and the exec tracepoint names the program that was run.
  @Test(.enabled(if: TraceFS.root != nil, "tracefs is not mounted"))
  func perfPrintsTheDecodedFieldsOfTwoSubsystems() throws {
    let dir = try ToolRunner.tempDirectory("tracepoint-fields")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/tp.data"
    let rec = try ToolRunner.run([
      ToolRunner.sonde, "record", "-e", "syscalls:sys_exit_getpid", "-e", "sched:sched_process_exec", "-o", file,
      "--", ToolRunner.demo, "getpid", "29",
    ])
    #expect(rec.status == 0, "\(rec.stderr)")
    let script = try ToolRunner.run(["perf", "script", "-i", file, "-F", "pid,event,trace"])
    #expect(script.status == 0, "\(script.stderr)")
    var exits = 0
    var execs: [String] = []
    for line in script.stdout.split(separator: "\n") {
      let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      guard f.count >= 3, let pid = Int(f[0]) else { continue }
      if f[1] == "syscalls:sys_exit_getpid:" {
        #expect(f[2] == "0x" + String(pid, radix: 16), "\(line)")
        exits += 1
      } else if f[1] == "sched:sched_process_exec:" {
        execs.append(f.dropFirst(2).joined(separator: " "))
        #expect(f.dropFirst(2).joined(separator: " ") == "filename=\(ToolRunner.demo) pid=\(pid) old_pid=\(pid)")
      }
    }
    #expect(exits == 29, "\(script.stdout.prefix(500))")
    #expect(execs.count == 1, "\(script.stdout.prefix(500))")
  }

  /// `sonde record -o -` sends the formats as a TRACING_DATA record ahead of the samples, as perf does.
  @Test(.enabled(if: TraceFS.root != nil, "tracefs is not mounted"))
  func perfScriptDecodesTheTracepointFromSondesPipe() throws {
    let dir = try ToolRunner.tempDirectory("tracepoint-pipe")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let stream = dir + "/tp.pipe"
    let rec = try ToolRunner.run([
      "sh", "-c",
      "'\(ToolRunner.sonde)' record -e \(Self.event) -o - -- '\(ToolRunner.demo)' getpid 41 > '\(stream)'",
    ])
    #expect(rec.status == 0, "\(rec.stderr)")
    let script = try ToolRunner.run(["sh", "-c", "perf script -i - < '\(stream)'"])
    #expect(script.status == 0, "\(script.stderr)")
    let lines = script.stdout.split(separator: "\n").filter { $0.contains("\(Self.event):") }
    #expect(lines.count == 41, "\(script.stdout.prefix(500))")
    #expect(!script.stdout.contains("unknown tracepoint"))
    let report = try ToolRunner.run(["sh", "-c", "perf report --stdio -i - < '\(stream)'"])
    #expect(report.status == 0, "\(report.stderr)")
    #expect(report.stdout.contains("# Samples: 41  of event '\(Self.event)'"))
  }

  /// Sonde's own reader takes the section back: the recorded event's format, exactly as tracefs has it.
  @Test(.enabled(if: TraceFS.root != nil, "tracefs is not mounted"))
  func sondeReadsTheTracingDataItWrote() throws {
    let dir = try ToolRunner.tempDirectory("tracepoint-read")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = dir + "/tp.data"
    let rec = try ToolRunner.run([
      ToolRunner.sonde, "record", "-e", Self.event, "-o", file, "--", ToolRunner.demo, "getpid", "3",
    ])
    #expect(rec.status == 0, "\(rec.stderr)")
    let data = try #require(try PerfDataFile(path: file).features.tracingData)
    let root = try #require(TraceFS.root)
    #expect(data.version == "0.6")
    #expect(data.systems.map(\.name) == ["syscalls"])
    // tracefs files report size 0, so they are read to EOF rather than by their stat size.
    let format = try #require(readFileBytes("\(root)/events/syscalls/sys_enter_getpid/format"))
    #expect(format.count > 100)
    #expect(data.systems.first?.formats == [format])
    #expect(data.headerPage == readFileBytes("\(root)/events/header_page"))
    #expect(data.headerEvent == readFileBytes("\(root)/events/header_event"))
  }
}
