import ArgumentParser
import PerfEvents
import Symbols
import SondeSystem
import SondeText

/// `sonde symbolize`: turns addresses into function names, the way every report does, so the engine can be
/// checked against addr2line, llvm-symbolizer, c++filt and swift demangle.
struct SymbolizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "symbolize",
    abstract: "Name the functions containing addresses (in a file, a process or the kernel), or demangle names.",
    discussion: """
      Addresses are hexadecimal, with or without 0x. With -e they are ELF virtual addresses of FILE (as
      addr2line takes them); with -p they are runtime addresses in process PID; with --kernel they are kernel
      addresses looked up in /proc/kallsyms. --demangle takes symbol names instead of addresses. With no
      addresses (or names) on the command line they are read from standard input, one per line.
      """)

  @Option(name: .customShort("e"), help: "An ELF file whose virtual addresses to symbolize.")
  var file: String?

  @Option(name: .customShort("p"), help: "A process whose runtime addresses to symbolize.")
  var pid: Int32?

  @Flag(help: "Symbolize kernel addresses with /proc/kallsyms.")
  var kernel = false

  @Flag(help: "Demangle the arguments (Swift, C++, Rust) instead of symbolizing addresses.")
  var demangle = false

  @Flag(help: "Print names as stored, without demangling.")
  var noDemangle = false

  @Flag(help: "Shorten Swift names (drop Swift. prefixes, specialization noise, where clauses).")
  var simplify = false

  @Flag(help: "Print one JSON object per line.")
  var json = false

  @Argument(help: "Addresses (hex), or names with --demangle.")
  var items: [String] = []

  func validate() throws {
    let modes = [file != nil, pid != nil, kernel, demangle].filter { $0 }.count
    guard modes == 1 else { throw ValidationError("choose exactly one of -e FILE, -p PID, --kernel, --demangle") }
  }

  func run() throws {
    try reportingErrors(verb: "symbolize") { try runVerb() }
  }

  private func runVerb() throws {
    var items = self.items
    if items.isEmpty {
      while let line = readLine() {
        let item = line.trimmingWhitespace()
        if !item.isEmpty { items.append(item) }
      }
    }
    var options = Symbolizer.Options()
    options.demangle = !noDemangle
    options.demangler = Demangler(simplifySwift: simplify)
    if demangle {
      for name in items {
        let scheme = ManglingScheme.of(name)
        let text = options.demangler.demangle(name)
        if json {
          var object = JSONObject()
          object.add("name", name)
          object.add("scheme", scheme.rawValue)
          object.add("demangled", text)
          print(object.text())
        } else {
          print(text ?? name)
        }
      }
      return
    }
    var addresses: [UInt64] = []
    for item in items {
      let digits = item.hasPrefix("0x") || item.hasPrefix("0X") ? item.dropFirst(2) : item[...]
      guard let value = UInt64(digits, radix: 16) else {
        throw SondeError.invalid("symbolize", "'\(item)' is not a hexadecimal address", remedy: "e.g. 0x4011a0")
      }
      addresses.append(value)
    }
    let symbolizer = Symbolizer(options: options)
    let frames: [SymbolizedFrame]
    if let file {
      frames = try symbolizer.symbolize(file: file, addresses: addresses)
    } else if let pid {
      _ = try symbolizer.maps(pid: pid)  // report a missing process as an error, not as [unknown]s
      frames = symbolizer.symbolize(pid: pid, addresses: addresses)
    } else {
      let table = try symbolizer.kernelSymbols()
      if table.isRestricted {
        // Every address in kallsyms reads 0 for this user: say so instead of printing [unknown]s.
        let restrict = readSmallFile("/proc/sys/kernel/kptr_restrict")?.trimmingWhitespace() ?? "?"
        let paranoid = readSmallFile("/proc/sys/kernel/perf_event_paranoid")?.trimmingWhitespace() ?? "?"
        throw SondeError(
          .permissionDenied, operation: "read /proc/kallsyms",
          reason:
            "the kernel hides symbol addresses from this user "
            + "(kernel.kptr_restrict = \(restrict), kernel.perf_event_paranoid = \(paranoid))",
          remedy: "run as root (CAP_SYSLOG), or set kernel.kptr_restrict = 0 and kernel.perf_event_paranoid ≤ 1")
      }
      frames = symbolizer.symbolizeKernel(addresses: addresses)
    }
    for frame in frames { print(json ? jsonLine(frame) : textLine(frame)) }
  }

  private func textLine(_ frame: SymbolizedFrame) -> String {
    "0x\(String(frame.address, radix: 16))\t\(frame.description)"
  }

  private func jsonLine(_ frame: SymbolizedFrame) -> String {
    var object = JSONObject()
    object.add("address", "0x" + String(frame.address, radix: 16))
    object.add("status", frame.status.rawValue)
    object.add("name", frame.name)
    object.add("symbol", frame.symbol)
    object.add("demangled", frame.demangled)
    object.add("offset", frame.symbolOffset)
    object.add("module", frame.module)
    object.add("module_offset", "0x" + String(frame.moduleOffset, radix: 16))
    object.add("deleted", frame.moduleDeleted)
    object.add("build_id", frame.buildID)
    if let detail = frame.detail { object.add("detail", detail) }
    return object.text()
  }
}
