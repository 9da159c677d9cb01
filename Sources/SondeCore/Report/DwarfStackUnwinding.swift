import PerfEvents
import Profiles
import SondeSystem
import Symbols

/// Unwinds the user stacks of `--call-graph dwarf` samples (REGS_USER and STACK_USER: the registers and a
/// copy of the stack at the sample) with each binary's call-frame table (`UnwindTable`, built once per file
/// from its `.eh_frame`), so report, script and folded output show whole call chains for code built without
/// frame pointers (Swift -O, Debian's libc). Where no table covers an address the unwinder follows frame
/// pointers.
///
/// Mappings come from the file's MMAP records in the order they happened (the newest mapping containing an
/// address wins, as exec replaces a process's image); binaries are read from this machine, as symbolization
/// does.
public final class DwarfStackUnwinding {
  /// What unwinding did over a whole file, printed by report and script so a short chain is explained.
  public struct Stats: Sendable {
    /// Samples that carried registers and a stack copy.
    public var samples = 0
    /// Of those, samples whose unwind found at least one caller.
    public var withCallers = 0
    /// Caller frames found in all.
    public var callerFrames = 0
    /// Why each unwind stopped.
    public var stops: [StackUnwinder.StopReason: Int] = [:]
    /// Binaries whose call-frame table was built, their rows, and the time it took.
    public var tables = 0
    public var tableRows = 0
    public var tableSeconds = 0.0
    /// Binaries whose table could not be built, with the reason (frame pointers were used in them).
    public var failedTables: [String: String] = [:]
  }

  public private(set) var stats = Stats()
  private var byPid: [Int32: [Profile.Mapping]] = [:]
  private var tables: [String: (table: UnwindTable, elf: ELFFile)?] = [:]
  private let unwinder = StackUnwinder(maxDepth: ProfileLoader.maxStackFrames - 1)

  public init() {}

  /// Whether any of the file's events sampled user stacks (`--call-graph dwarf`).
  public static func needed(by file: PerfDataFile) -> Bool {
    file.events.contains { SampleType(rawValue: $0.attributes.sample_type).contains(.stackUser) }
  }

  /// Adds a mapping, in the order the file recorded them.
  public func add(_ mapping: Profile.Mapping) {
    if mapping.pid != -1 { byPid[mapping.pid, default: []].append(mapping) }
  }

  /// The user frames of sample `s` of process `pid`, leaf first: its user IP, then each return address the
  /// unwind found minus one (inside the call instruction: what perf reports for DWARF-unwound callers, so
  /// `sonde script` prints the addresses `perf script` prints). Nil when the sample carries no registers or
  /// stack copy (not a DWARF-mode sample).
  public func userFrames(_ s: SampleView, pid: Int32) -> [UInt64]? {
    guard let ip = s.userIP, let sp = s.userSP, s.userStack.count >= 8 else { return nil }
    stats.samples += 1
    let stack = s.userStack
    let mappings = byPid[pid] ?? []
    let unwind = unwinder.unwind(
      from: StackUnwinder.Registers(rip: ip, rsp: sp, rbp: s.userBP ?? 0),
      readStack: { address in
        guard address >= sp else { return nil }
        let offset = address &- sp
        guard offset <= UInt64(stack.count - 8) else { return nil }
        return UInt64(littleEndian: stack.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self))
      },
      tableFor: { address in self.table(at: address, in: mappings) })
    stats.stops[unwind.stopReason, default: 0] += 1
    if !unwind.returnAddresses.isEmpty {
      stats.withCallers += 1
      stats.callerFrames += unwind.returnAddresses.count
    }
    return [ip] + unwind.returnAddresses.map { $0 &- 1 }
  }

  /// The table of the binary mapped at `address` and its load bias (address = ELF virtual address + bias).
  private func table(at address: UInt64, in mappings: [Profile.Mapping]) -> (table: UnwindTable, bias: UInt64)? {
    guard let mapping = mappings.last(where: { $0.start <= address && address < $0.end }),
      mapping.path.hasPrefix("/"), let loaded = loadTable(mapping.path),
      let vaddr = loaded.elf.virtualAddress(forFileOffset: address &- mapping.start &+ mapping.fileOffset)
    else { return nil }
    return (loaded.table, address &- vaddr)
  }

  private func loadTable(_ path: String) -> (table: UnwindTable, elf: ELFFile)? {
    if let cached = tables[path] { return cached }
    let start = monotonicSeconds()
    var loaded: (table: UnwindTable, elf: ELFFile)?
    do throws(SondeError) {
      let elf = try ELFFile.open(path: path)
      let table = try UnwindTable.build(from: elf)
      loaded = (table, elf)
      stats.tables += 1
      stats.tableRows += table.rows.count
    } catch {
      stats.failedTables[path] = error.reason
    }
    stats.tableSeconds += monotonicSeconds() - start
    tables[path] = loaded
    return loaded
  }
}
