/// The compact unwind rules Sonde keeps from call-frame information (x86-64 only): for each instruction
/// address, how to find the caller's stack pointer (the CFA), its frame pointer (rbp) and the return address.
///
/// Only what an unwinder needs survives: the CFA as rsp or rbp plus an offset (or the PLT expression), where
/// rbp and the return address were saved, and "end of stack". Everything else DWARF can say (other CFA
/// registers, general expressions, registers saved in registers) becomes `unsupported`, which stops an
/// unwind there. Rules are small `Hashable` values so a loader can deduplicate them into a table and give each
/// row an index — the shape BPF maps want.
public struct UnwindRule: Hashable, Sendable {
  /// How to compute the canonical frame address: the value rsp had in the caller just before the call.
  public enum CFA: Hashable, Sendable {
    /// CFA = rsp + offset (the usual rule in code without frame pointers).
    case rspOffset(Int32)
    /// CFA = rbp + offset (functions with a frame pointer, or with variable-sized stack frames).
    case rbpOffset(Int32)
    /// The expression ld emits for lazy-binding PLT entries: CFA = rsp + 8, plus 8 more once the entry has
    /// pushed its relocation index, i.e. when `(rip & 15) >= threshold`. The threshold is the literal in the
    /// expression (11 for the classic 16-byte entry; other PLT layouts use another value).
    case pltExpression(threshold: UInt8)
    /// Any other rule (another base register, a general DWARF expression, or no rule at all).
    case unsupported
  }

  /// Where the caller's rbp is. rbp is callee-saved, so "no rule" means it is unchanged.
  public enum Register: Hashable, Sendable {
    /// The callee has not changed it.
    case sameValue
    /// Saved in the stack at CFA + offset.
    case offset(Int32)
    /// DW_CFA_undefined: the value cannot be recovered.
    case undefined
    /// Saved somewhere this model does not follow (another register, an expression).
    case unsupported
  }

  /// Where the return address is.
  public enum ReturnAddress: Hashable, Sendable {
    /// Saved at CFA + offset (−8 on x86-64 everywhere except unusual hand-written code).
    case offset(Int32)
    /// DW_CFA_undefined on the return-address column: this is the outermost frame (`_start`, thread entry).
    case endOfStack
    /// Any other rule.
    case unsupported
  }

  public var cfa: CFA
  public var rbp: Register
  public var returnAddress: ReturnAddress

  public init(cfa: CFA, rbp: Register, returnAddress: ReturnAddress) {
    self.cfa = cfa
    self.rbp = rbp
    self.returnAddress = returnAddress
  }

  /// Whether this row marks the outermost frame.
  public var isEndOfStack: Bool { returnAddress == .endOfStack }

  /// Whether any part of the rule is outside the model (an unwind reaching it stops with `badRule`, unless it
  /// is an end-of-stack row, which needs nothing else).
  public var hasUnsupportedPart: Bool {
    cfa == .unsupported || rbp == .unsupported || returnAddress == .unsupported
  }
}

/// One row of an `UnwindTable`: `rule` applies from `address` (an ELF virtual address, before any load
/// bias) up to the next row's address. A nil rule marks the end of an FDE's coverage: addresses from here to
/// the next row have no call-frame information.
public struct UnwindRow: Hashable, Sendable {
  public var address: UInt64
  public var rule: UnwindRule?

  public init(address: UInt64, rule: UnwindRule?) {
    self.address = address
    self.rule = rule
  }
}
