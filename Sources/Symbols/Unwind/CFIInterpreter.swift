/// Executes DWARF call-frame programs (a CIE's initial instructions, then an FDE's) for x86-64 and turns
/// the register-rule table they describe into `UnwindRow`s.
///
/// Only the columns an unwinder needs are tracked: the CFA, rbp (DWARF register 6) and the CIE's
/// return-address column (16, rip, on x86-64); rules for other registers are decoded and dropped. Unknown
/// opcodes, truncated operands, a `restore_state` with nothing remembered, more than `maxStateDepth`
/// remembered states or more than `maxInstructions` instructions make the FDE unusable (the caller skips and
/// counts it); nothing here traps on bad input.
struct CFIInterpreter {
  /// Upper bound on instructions executed for one FDE (CIE program included).
  static let maxInstructions = 1 << 16
  /// Upper bound on `DW_CFA_remember_state` nesting.
  static let maxStateDepth = 64

  static let rbpRegister: UInt64 = 6
  static let rspRegister: UInt64 = 7

  let bytes: [UInt8]
  let cie: CommonInformationEntry
  let bases: PointerBases

  /// The CFA as a DWARF program leaves it.
  enum CFAState: Hashable {
    /// No DW_CFA_def_cfa* yet.
    case undefined
    case registerOffset(register: UInt64, offset: Int64)
    case pltExpression(threshold: UInt8)
    /// Any other DW_CFA_def_cfa_expression.
    case expression
  }

  /// A register's rule as a DWARF program leaves it.
  enum RegisterState: Hashable {
    /// No rule: for callee-saved registers such as rbp this means "same value".
    case unspecified
    case undefined
    case sameValue
    case offset(Int64)
    /// Saved in another register, computed by an expression, or given as a value: not followed.
    case other
  }

  /// The tracked columns of one row of the rule table.
  struct State: Hashable {
    var cfa = CFAState.undefined
    var rbp = RegisterState.unspecified
    var returnAddress = RegisterState.unspecified

    /// The compact form. Offsets that do not fit 32 bits and rules outside the model become `unsupported`.
    var rule: UnwindRule {
      let cfaRule: UnwindRule.CFA
      switch cfa {
      case .registerOffset(let register, let offset):
        if let offset = Int32(exactly: offset), register == CFIInterpreter.rspRegister {
          cfaRule = .rspOffset(offset)
        } else if let offset = Int32(exactly: offset), register == CFIInterpreter.rbpRegister {
          cfaRule = .rbpOffset(offset)
        } else {
          cfaRule = .unsupported
        }
      case .pltExpression(let threshold): cfaRule = .pltExpression(threshold: threshold)
      case .undefined, .expression: cfaRule = .unsupported
      }
      let rbpRule: UnwindRule.Register
      switch rbp {
      case .unspecified, .sameValue: rbpRule = .sameValue
      case .undefined: rbpRule = .undefined
      case .offset(let offset): rbpRule = Int32(exactly: offset).map { .offset($0) } ?? .unsupported
      case .other: rbpRule = .unsupported
      }
      let returnRule: UnwindRule.ReturnAddress
      switch returnAddress {
      case .undefined: returnRule = .endOfStack
      case .offset(let offset): returnRule = Int32(exactly: offset).map { .offset($0) } ?? .unsupported
      case .unspecified, .sameValue, .other: returnRule = .unsupported
      }
      return UnwindRule(cfa: cfaRule, rbp: rbpRule, returnAddress: returnRule)
    }
  }

  /// The state after the CIE's initial instructions: where every FDE of this CIE starts, and what
  /// DW_CFA_restore returns a register to.
  func initialState() throws(CFIError) -> State {
    var machine = Machine(interpreter: self, initial: nil, start: 0, end: 0)
    try machine.run(cie.instructions)
    return machine.state
  }

  /// The rows for `fde`: one per address where a tracked rule changes, starting at the FDE's first address
  /// and never reaching its end (consecutive identical rules are merged).
  func rows(for fde: FrameDescriptionEntry, initial: State) throws(CFIError) -> [UnwindRow] {
    var machine = Machine(interpreter: self, initial: initial, start: fde.start, end: fde.end)
    machine.state = initial
    try machine.run(fde.instructions)
    machine.emit(upTo: nil)
    return machine.rows
  }

  /// One execution: the current state, the remembered states, the current location and the rows so far.
  private struct Machine {
    let interpreter: CFIInterpreter
    /// The CIE's state, for DW_CFA_restore; nil while running the CIE itself.
    let initial: State?
    let end: UInt64
    var state = State()
    var stack: [State] = []
    var location: UInt64
    var rows: [UnwindRow] = []
    var executed = 0

    init(interpreter: CFIInterpreter, initial: State?, start: UInt64, end: UInt64) {
      self.interpreter = interpreter
      self.initial = initial
      self.location = start
      self.end = end
    }

    private var cie: CommonInformationEntry { interpreter.cie }

    /// Records the current state as the row starting at the current location, then moves the location to
    /// `next` (nil: the program ended). Rows at or past the FDE's end describe nothing and are dropped.
    mutating func emit(upTo next: UInt64?) {
      if location < end {
        let rule = state.rule
        if rows.last?.rule != rule { rows.append(UnwindRow(address: location, rule: rule)) }
      }
      if let next { location = next }
    }

    private mutating func advance(_ delta: UInt64, _ cursor: DwarfCursor) throws(CFIError) {
      guard initial != nil else { throw cursor.error("location advance in a CIE's initial instructions") }
      let (scaled, overflow) = delta.multipliedReportingOverflow(by: cie.codeAlignment)
      let (next, wrapped) = location.addingReportingOverflow(scaled)
      guard !overflow, !wrapped else { throw cursor.error("location advance by \(delta) overflows") }
      if scaled > 0 { emit(upTo: next) }
    }

    /// An unsigned operand times the data alignment factor.
    private func factored(_ value: UInt64, _ cursor: DwarfCursor) throws(CFIError) -> Int64 {
      guard let signed = Int64(exactly: value) else { throw cursor.error("offset \(value) too large") }
      return try factored(signed, cursor)
    }

    private func factored(_ value: Int64, _ cursor: DwarfCursor) throws(CFIError) -> Int64 {
      let (product, overflow) = value.multipliedReportingOverflow(by: cie.dataAlignment)
      guard !overflow else { throw cursor.error("offset \(value) × \(cie.dataAlignment) overflows") }
      return product
    }

    private mutating func set(_ register: UInt64, _ rule: RegisterState) {
      if register == CFIInterpreter.rbpRegister { state.rbp = rule }
      if register == cie.returnAddressRegister { state.returnAddress = rule }
    }

    private mutating func restore(_ register: UInt64) {
      let original = initial ?? State()
      if register == CFIInterpreter.rbpRegister { state.rbp = original.rbp }
      if register == cie.returnAddressRegister { state.returnAddress = original.returnAddress }
    }

    /// Sets a CFA offset, keeping the register (and an expression CFA stays an expression, as in libgcc).
    private mutating func setCFAOffset(_ offset: Int64) {
      if case .registerOffset(let register, _) = state.cfa {
        state.cfa = .registerOffset(register: register, offset: offset)
      }
    }

    mutating func run(_ program: Range<Int>) throws(CFIError) {
      var cursor = DwarfCursor(bytes: interpreter.bytes, range: program, failure: .malformedInstructions)
      while !cursor.isAtEnd {
        executed += 1
        guard executed <= CFIInterpreter.maxInstructions else {
          throw CFIError(reason: .limitExceeded, detail: "more than \(CFIInterpreter.maxInstructions) instructions")
        }
        let opcode = try cursor.u8()
        let low = UInt64(opcode & 0x3f)
        switch opcode >> 6 {
        case 1: try advance(low, cursor)  // DW_CFA_advance_loc
        case 2: set(low, .offset(try factored(try cursor.uleb128(), cursor)))  // DW_CFA_offset
        case 3: restore(low)  // DW_CFA_restore
        default: try extended(opcode, &cursor)
        }
      }
    }

    /// The opcodes with no operand packed into the opcode byte.
    private mutating func extended(_ opcode: UInt8, _ cursor: inout DwarfCursor) throws(CFIError) {
      switch opcode {
      case 0x00: break  // DW_CFA_nop
      case 0x01:  // DW_CFA_set_loc: an address in the CIE's pointer encoding
        guard initial != nil else { throw cursor.error("DW_CFA_set_loc in a CIE") }
        let encoding = interpreter.cie.pointerEncoding
        guard !encoding.isIndirect else {
          throw CFIError(reason: .unsupportedEncoding, detail: "indirect DW_CFA_set_loc")
        }
        let target = try cursor.pointer(encoding, bases: interpreter.bases)
        guard target >= location else { throw cursor.error("DW_CFA_set_loc moves backwards") }
        if target > location { emit(upTo: target) }
      case 0x02: try advance(UInt64(try cursor.u8()), cursor)  // DW_CFA_advance_loc1
      case 0x03: try advance(UInt64(try cursor.u16()), cursor)  // DW_CFA_advance_loc2
      case 0x04: try advance(UInt64(try cursor.u32()), cursor)  // DW_CFA_advance_loc4
      case 0x05:  // DW_CFA_offset_extended
        let register = try cursor.uleb128()
        set(register, .offset(try factored(try cursor.uleb128(), cursor)))
      case 0x06: restore(try cursor.uleb128())  // DW_CFA_restore_extended
      case 0x07: set(try cursor.uleb128(), .undefined)  // DW_CFA_undefined
      case 0x08: set(try cursor.uleb128(), .sameValue)  // DW_CFA_same_value
      case 0x09:  // DW_CFA_register: saved in another register
        let register = try cursor.uleb128()
        let other = try cursor.uleb128()
        set(register, register == other ? .sameValue : .other)
      case 0x0a:  // DW_CFA_remember_state (the CFA is remembered too, as libgcc and readelf do)
        guard stack.count < CFIInterpreter.maxStateDepth else {
          throw CFIError(reason: .limitExceeded, detail: "more than \(CFIInterpreter.maxStateDepth) remembered states")
        }
        stack.append(state)
      case 0x0b:  // DW_CFA_restore_state
        guard let saved = stack.popLast() else { throw cursor.error("DW_CFA_restore_state with nothing remembered") }
        state = saved
      case 0x0c:  // DW_CFA_def_cfa: register, unfactored offset
        let register = try cursor.uleb128()
        let offset = try cursor.uleb128()
        guard let offset = Int64(exactly: offset) else { throw cursor.error("CFA offset \(offset) too large") }
        state.cfa = .registerOffset(register: register, offset: offset)
      case 0x0d:  // DW_CFA_def_cfa_register: keeps the offset
        let register = try cursor.uleb128()
        var offset: Int64 = 0
        if case .registerOffset(_, let current) = state.cfa { offset = current }
        state.cfa = .registerOffset(register: register, offset: offset)
      case 0x0e:  // DW_CFA_def_cfa_offset: unfactored
        let offset = try cursor.uleb128()
        guard let offset = Int64(exactly: offset) else { throw cursor.error("CFA offset \(offset) too large") }
        setCFAOffset(offset)
      case 0x0f:  // DW_CFA_def_cfa_expression
        let block = try cursor.block()
        state.cfa =
          CFIInterpreter.pltThreshold(interpreter.bytes[block]).map { .pltExpression(threshold: $0) }
          ?? .expression
      case 0x10, 0x16:  // DW_CFA_expression, DW_CFA_val_expression
        let register = try cursor.uleb128()
        _ = try cursor.block()
        set(register, .other)
      case 0x11:  // DW_CFA_offset_extended_sf
        let register = try cursor.uleb128()
        set(register, .offset(try factored(try cursor.sleb128(), cursor)))
      case 0x12:  // DW_CFA_def_cfa_sf: register, factored signed offset
        let register = try cursor.uleb128()
        state.cfa = .registerOffset(register: register, offset: try factored(try cursor.sleb128(), cursor))
      case 0x13: setCFAOffset(try factored(try cursor.sleb128(), cursor))  // DW_CFA_def_cfa_offset_sf
      case 0x14, 0x15:  // DW_CFA_val_offset, DW_CFA_val_offset_sf: the value is CFA + offset, not saved there
        let register = try cursor.uleb128()
        _ = opcode == 0x14 ? try factored(try cursor.uleb128(), cursor) : try factored(try cursor.sleb128(), cursor)
        set(register, .other)
      case 0x2e: _ = try cursor.uleb128()  // DW_CFA_GNU_args_size
      case 0x2f:  // DW_CFA_GNU_negative_offset_extended
        let register = try cursor.uleb128()
        let (negated, overflow) = Int64(0).subtractingReportingOverflow(try factored(try cursor.uleb128(), cursor))
        guard !overflow else { throw cursor.error("negative offset overflows") }
        set(register, .offset(negated))
      default:
        throw CFIError(reason: .unknownOpcode, detail: "call-frame opcode 0x\(String(opcode, radix: 16))")
      }
    }
  }

  /// The lazy-binding PLT's CFA expression as GNU ld writes it —
  /// `DW_OP_breg7 8; DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_litN; DW_OP_ge; DW_OP_lit3; DW_OP_shl;
  /// DW_OP_plus`, i.e. rsp + 8 + (((rip & 15) >= N) << 3) — matched byte for byte; returns N.
  static func pltThreshold(_ expression: ArraySlice<UInt8>) -> UInt8? {
    let bytes = Array(expression)
    guard bytes.count == 11 else { return nil }
    let literal = bytes[6]
    guard literal >= 0x30, literal <= 0x4f else { return nil }  // DW_OP_lit0 ... DW_OP_lit31
    let pattern: [UInt8] = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, literal, 0x2a, 0x33, 0x24, 0x22]
    return bytes == pattern ? literal - 0x30 : nil
  }
}
