import ArgumentParser
import PerfEvents
import Profiles
import SondeCore
import SondeSystem
import SondeText

#if canImport(Glibc)
  import Glibc
#endif

/// `sonde report`: perf-report-style overhead tables, call graphs, folded stacks and flame graphs
/// from a perf.data file (written by Sonde or by perf).
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Summarize a perf.data file: top symbols, call graphs, folded stacks, flame graph SVG.",
    discussion: """
      Examples:
        sonde report                         # as perf report --stdio
        sonde report --no-children -g        # self overhead, callee graphs
        sonde report --children --call-graph caller
        sonde report --folded -o out.folded
        sonde report --flamegraph flame.svg
      """)

  @Option(name: [.short, .customLong("input")], help: "The perf.data file to read.")
  var input = "perf.data"
  @Flag(help: "Text output (the default; accepted for perf compatibility).")
  var stdio = false
  @Option(name: [.short, .customLong("sort")], help: "Sort keys: comm,dso,sym,pid,tid.")
  var sort = "comm,dso,sym"
  @Flag(
    inversion: .prefixedNo,
    help: "Accumulate callers' overhead (perf's --children; the default when the file has call chains).")
  var children: Bool?
  @Flag(name: .customShort("g"), help: "Show call graphs (callee order unless --call-graph caller).")
  var graphs = false
  @Option(name: .customLong("call-graph"), help: "Call graph order: caller or callee (implies -g).")
  var callGraph: String?
  @Option(help: "Only these process ids (comma-separated).")
  var pid: String?
  @Option(help: "Only these command names (comma-separated).")
  var comm: String?
  @Option(help: "Only this event (name as recorded); the table shows one section per event otherwise.")
  var event: String?
  @Option(name: .customLong("limit"), parsing: .unconditional, help: "Show at most N rows.")
  var limit: Int?
  @Flag(help: "Print folded stacks (comm;root;…;leaf count) instead of the table.")
  var folded = false
  @Option(name: .short, help: ArgumentHelp("Write --folded output to this file instead of stdout.", valueName: "file"))
  var output: String?
  @Option(help: "Write an interactive flame graph SVG to this file.")
  var flamegraph: String?
  @Option(help: "Write a speedscope JSON file (one profile per process).")
  var speedscope: String?
  @Option(help: "Write a gzipped pprof profile (FILE.pb.gz) for pprof, Parca, Pyroscope or Grafana.")
  var pprof: String?

  func validate() throws {
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    if output != nil && !folded {
      throw ValidationError("-o writes --folded output: add --folded (or use --flamegraph FILE)")
    }
    if sort.split(separator: ",").isEmpty { throw ValidationError("--sort needs keys: comm,dso,sym,pid,tid") }
    if let comm, comm.split(separator: ",").isEmpty { throw ValidationError("--comm needs command names") }
    if let event, event.isEmpty { throw ValidationError("--event needs an event name") }
    if let flamegraph, flamegraph.isEmpty { throw ValidationError("--flamegraph needs a file name") }
    if let speedscope, speedscope.isEmpty { throw ValidationError("--speedscope needs a file name") }
    if let pprof, pprof.isEmpty { throw ValidationError("--pprof needs a file name") }
    if input.isEmpty { throw ValidationError("-i needs a file name ('-' for standard input)") }
  }

  func run() throws {
    var loader = ProfileLoader()
    if let pid {
      do {
        loader.pids = Set(try parseIDs(pid, what: "pid"))
      } catch let error as CLIError {
        writeError(error.description, verb: "report")
        throw ExitCode.failure
      }
    }
    if let comm { loader.comms = Set(comm.split(separator: ",").map(String.init)) }
    let file: PerfDataFile
    do {
      file = try PerfDataFile(path: input)
    } catch {
      writeError("\(error)", verb: "report")
      throw ExitCode.failure
    }
    let names = RecordWalker.eventNames(file)
    if let event {
      guard let index = names.firstIndex(of: event) else {
        writeError("no event '\(event)' in \(input) (it has: \(names.joined(separator: ", ")))", verb: "report")
        throw ExitCode.failure
      }
      loader.event = index
    }
    // Like perf, the table reports each event separately when a file holds several.
    // Side-band carriers (the software dummy event) never sample and get no section.
    let sampling = file.events.indices.filter {
      !EventCatalog.isDummy(type: file.events[$0].attributes.type, config: file.events[$0].attributes.config)
    }
    let tableEvents: [Int?] =
      loader.event == nil && sampling.count > 1 && !folded && flamegraph == nil && speedscope == nil && pprof == nil
      ? sampling.map { $0 } : [loader.event ?? (sampling.count == 1 && names.count > 1 ? sampling[0] : nil)]
    var sessions: [ReportSession] = []
    do {
      for e in tableEvents {
        var l = loader
        l.event = e
        sessions.append(try ReportSession(file: file, loader: l))
      }
    } catch {
      writeError("\(error)", verb: "report")
      throw ExitCode.failure
    }
    let session = sessions[0]
    if let unwinding = session.summary.unwinding { samplingStatus("sonde report: " + describeUnwinding(unwinding)) }
    if folded || flamegraph != nil || speedscope != nil || pprof != nil {
      if folded {
        let text = FoldedExporter.render(session.resolved)
        if let output {
          try writeWholeFile(output, text, verb: "report")
        } else {
          writeStdout(text)
        }
      }
      if let flamegraph {
        var svg = FlameGraphSVG(
          title: "Flame Graph",
          subtitle:
            "\(session.profile.eventName): \(session.profile.sampleCount) samples, \(session.profile.lost) lost — \(input)"
        )
        svg.unit = "samples"
        try writeWholeFile(flamegraph, svg.render(session.resolved), verb: "report")
        samplingStatus("sonde report: wrote \(flamegraph) (\(session.profile.sampleCount) samples)")
      }
      if let speedscope {
        let p = session.profile
        let name = "\(input): \(p.eventName), \(p.sampleCount) samples, \(p.lost) lost"
        try writeWholeFile(speedscope, SpeedscopeExporter.render(session.resolved, name: name), verb: "report")
        samplingStatus("sonde report: wrote \(speedscope) (\(p.sampleCount) samples)")
      }
      if let pprof {
        let p = session.profile
        try writePprof(
          pprof, session.resolved, weightIsCount: false, startTime: 0,
          comments: ["\(input): \(p.eventName), \(p.sampleCount) samples, \(p.lost) lost, \(p.dropped) dropped"],
          buildIDs: session.buildIDs, verb: "report")
        samplingStatus("sonde report: wrote \(pprof) (\(p.sampleCount) samples)")
      }
      return
    }
    var options = ReportOptions()
    options.sortKeys = try sort.split(separator: ",", omittingEmptySubsequences: false).map {
      guard let k = ReportSortKey.parse(String($0)) else {
        throw ValidationError("--sort: unknown key '\($0)' (keys: comm,dso,sym,pid,tid)")
      }
      return k
    }
    let hasCallchains = file.events.contains { SampleType(rawValue: $0.attributes.sample_type).contains(.callchain) }
    options.children = children ?? hasCallchains
    options.limit = limit
    if let callGraph {
      guard let order = CallGraphOrder(rawValue: callGraph) else {
        throw ValidationError("--call-graph must be caller or callee")
      }
      options.callGraph = order
    } else if graphs {
      options.callGraph = .callee
    }
    for (i, s) in sessions.enumerated() {
      let report = ReportEngine.report(s.resolved, options: options)
      writeStdout((i > 0 ? "\n" : "") + ReportRenderer.render(report, session: s))
    }
  }
}

/// Writes text to standard output without Foundation.
func writeStdout(_ text: String) { writeText(text, to: standardOutput) }

/// One line on what DWARF unwinding did: samples with callers, frames, why unwinds stopped, tables built.
func describeUnwinding(_ u: DwarfStackUnwinding.Stats) -> String {
  let stops = u.stops.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key.name)" }
  var line =
    "dwarf unwinding: \(u.withCallers) of \(u.samples) stacks have callers (\(u.callerFrames) caller frames; stops: "
    + "\(stops.joined(separator: ", "))); unwind tables for \(u.tables) binaries, \(u.tableRows) rows in "
    + fixed(u.tableSeconds * 1000, 0) + " ms"
  if !u.failedTables.isEmpty {
    line +=
      "; no table for "
      + u.failedTables.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }
      .joined(separator: ", ")
  }
  return line
}
