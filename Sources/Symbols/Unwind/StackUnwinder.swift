/// A user-space stack unwinder for x86-64 driven by `UnwindTable`s, falling back to frame pointers where no
/// table covers an address.
///
/// It knows nothing about perf: the caller supplies the registers at the sample (rip, rsp, rbp), a function
/// reading 8 bytes of the copied stack (nil outside it), and a function naming the table and load bias for
/// an absolute address. That keeps it testable on a synthetic stack and reusable for perf's
/// `--call-graph dwarf` samples (`PERF_SAMPLE_REGS_USER` + `PERF_SAMPLE_STACK_USER`) and core files.
public struct StackUnwinder: Sendable {
  /// The registers an x86-64 unwind needs.
  public struct Registers: Hashable, Sendable {
    public var rip: UInt64
    public var rsp: UInt64
    public var rbp: UInt64

    public init(rip: UInt64, rsp: UInt64, rbp: UInt64) {
      self.rip = rip
      self.rsp = rsp
      self.rbp = rbp
    }
  }

  /// Why an unwind stopped.
  public enum StopReason: String, Hashable, Sendable {
    /// An end-of-stack row (`_start`, a thread's entry) or a zero return address: the stack is complete.
    case reachedEnd
    /// No table covered the address and the frame-pointer fallback did not work (rbp unknown, zero, or
    /// pointing at unreadable memory).
    case noUnwindInfo
    /// A rule pointed at stack memory outside the copy (the copy was too short, or the rule is wrong).
    case unreadableMemory
    /// `maxDepth` return addresses were found.
    case depthLimit
    /// The rule is outside the model (`unsupported` parts, a CFA from an rbp that is unknown) or its
    /// arithmetic overflows.
    case badRule
    /// The CFA did not move up the stack, which would loop or go backwards (a corrupt stack or a wrong rule).
    case stackNotGrowing

    /// How reports name it; the in-kernel unwinder's counts use the same names ("unsupported rule" covers
    /// both rule failures, which the kernel does not tell apart).
    public var name: String {
      switch self {
      case .reachedEnd: "reached the end"
      case .noUnwindInfo: "no table"
      case .unreadableMemory: "unreadable stack"
      case .depthLimit: "depth limit"
      case .badRule, .stackNotGrowing: "unsupported rule"
      }
    }
  }

  /// The caller frames found and why the walk stopped.
  public struct Unwind: Hashable, Sendable {
    /// Return addresses, innermost caller first (the sampled rip itself is not included).
    public var returnAddresses: [UInt64]
    public var stopReason: StopReason
  }

  /// The most return addresses one unwind produces (perf's default `kernel.perf_event_max_stack` is 127).
  public var maxDepth: Int

  public init(maxDepth: Int = 127) {
    self.maxDepth = maxDepth
  }

  /// Walks the stack from `registers`. `readStack(address)` returns the 8 little-endian bytes at an absolute
  /// address, or nil outside the copied stack; `tableFor(address)` returns the table of the file mapped at
  /// an absolute address and its load bias (absolute address = ELF virtual address + bias), or nil.
  ///
  /// The first frame is looked up at rip; each caller at its return address minus one, which is inside the
  /// call instruction (the return address itself may already belong to the next function or FDE).
  public func unwind(
    from registers: Registers, readStack: (UInt64) -> UInt64?,
    tableFor: (UInt64) -> (table: UnwindTable, bias: UInt64)?
  ) -> Unwind {
    var returnAddresses: [UInt64] = []
    var pc = registers.rip
    var rsp = registers.rsp
    var rbp: UInt64? = registers.rbp
    var isFirst = true
    func stop(_ reason: StopReason) -> Unwind { Unwind(returnAddresses: returnAddresses, stopReason: reason) }
    while true {
      guard returnAddresses.count < maxDepth else { return stop(.depthLimit) }
      let lookupAddress = isFirst ? pc : pc &- 1
      let step: Step
      if let (table, bias) = tableFor(lookupAddress), let rule = table.lookup(lookupAddress &- bias) {
        step = Self.apply(rule, pc: pc, rsp: rsp, rbp: rbp, readStack: readStack)
      } else {
        step = Self.framePointerStep(rbp: rbp, readStack: readStack)
      }
      let frame: (cfa: UInt64, returnAddress: UInt64, rbp: UInt64?)
      switch step {
      case .stop(let reason): return stop(reason)
      case .frame(let cfa, let returnAddress, let callerRBP): frame = (cfa, returnAddress, callerRBP)
      }
      guard frame.cfa > rsp else { return stop(.stackNotGrowing) }
      guard frame.returnAddress != 0 else { return stop(.reachedEnd) }
      returnAddresses.append(frame.returnAddress)
      pc = frame.returnAddress
      rsp = frame.cfa
      rbp = frame.rbp
      isFirst = false
    }
  }

  /// The outcome of unwinding one frame: the caller's rsp (the CFA), its pc and its rbp (nil when unknown).
  private enum Step {
    case frame(cfa: UInt64, returnAddress: UInt64, rbp: UInt64?)
    case stop(StopReason)
  }

  private static func apply(
    _ rule: UnwindRule, pc: UInt64, rsp: UInt64, rbp: UInt64?, readStack: (UInt64) -> UInt64?
  ) -> Step {
    if rule.isEndOfStack { return .stop(.reachedEnd) }
    let cfa: UInt64?
    switch rule.cfa {
    case .rspOffset(let offset): cfa = add(rsp, offset)
    case .rbpOffset(let offset):
      guard let rbp else { return .stop(.badRule) }
      cfa = add(rbp, offset)
    case .pltExpression(let threshold): cfa = add(rsp, (pc & 15) >= UInt64(threshold) ? 16 : 8)
    case .unsupported: return .stop(.badRule)
    }
    guard let cfa else { return .stop(.badRule) }
    guard case .offset(let returnOffset) = rule.returnAddress, let returnSlot = add(cfa, returnOffset) else {
      return .stop(.badRule)
    }
    guard let returnAddress = readStack(returnSlot) else { return .stop(.unreadableMemory) }
    let callerRBP: UInt64?
    switch rule.rbp {
    case .sameValue: callerRBP = rbp
    case .offset(let offset):
      guard let slot = add(cfa, offset) else { return .stop(.badRule) }
      guard let saved = readStack(slot) else { return .stop(.unreadableMemory) }
      callerRBP = saved
    case .undefined, .unsupported: callerRBP = nil
    }
    return .frame(cfa: cfa, returnAddress: returnAddress, rbp: callerRBP)
  }

  /// The frame-pointer convention: rbp points at the saved rbp, the return address is above it, and the
  /// caller's rsp is above that.
  private static func framePointerStep(rbp: UInt64?, readStack: (UInt64) -> UInt64?) -> Step {
    guard let rbp, rbp != 0, let cfa = add(rbp, 16), let returnAddress = readStack(cfa - 8),
      let savedRBP = readStack(rbp)
    else { return .stop(.noUnwindInfo) }
    return .frame(cfa: cfa, returnAddress: returnAddress, rbp: savedRBP)
  }

  /// `base + offset`, or nil when it leaves the 64-bit address space.
  private static func add(_ base: UInt64, _ offset: Int32) -> UInt64? {
    let (sum, overflow) =
      offset >= 0
      ? base.addingReportingOverflow(UInt64(offset)) : base.subtractingReportingOverflow(UInt64(offset.magnitude))
    return overflow ? nil : sum
  }
}
