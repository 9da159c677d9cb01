import Testing

@testable import Symbols

/// The unwinder on stacks laid out by hand: known frames give exact return addresses, and each way a walk
/// can end is reported as such.
@Suite struct StackUnwinderTests {
  /// A copy of stack memory at `base`, as perf's PERF_SAMPLE_STACK_USER would give it.
  struct SyntheticStack {
    var base: UInt64
    var bytes: [UInt8]

    init(base: UInt64, size: Int) {
      self.base = base
      bytes = [UInt8](repeating: 0, count: size)
    }

    mutating func put(_ offset: Int, _ value: UInt64) {
      for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    func read(_ address: UInt64) -> UInt64? {
      guard address >= base, address - base <= UInt64(bytes.count), UInt64(bytes.count) - (address - base) >= 8
      else { return nil }
      let offset = Int(address - base)
      return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
  }

  static let stackBase: UInt64 = 0x7ffe_0000
  static let bias: UInt64 = 0x5555_0000
  /// Code of a library without call-frame information, compiled with frame pointers.
  static let framePointerCode: Range<UInt64> = 0x6000_0000..<0x6000_1000

  static func rule(
    _ cfa: UnwindRule.CFA, _ rbp: UnwindRule.Register = .sameValue, ra: UnwindRule.ReturnAddress = .offset(-8)
  )
    -> UnwindRule
  {
    UnwindRule(cfa: cfa, rbp: rbp, returnAddress: ra)
  }

  /// ELF addresses 0x1000 `a` (one push), 0x1100 `b` (saves rbp, 24-byte frame), 0x1200 `start` (end of
  /// stack), 0x1400 a function with an unsupported CFA, 0x1500 a PLT, 0x1600 an rbp-framed function.
  static let table = UnwindTable(rows: [
    .init(address: 0x1000, rule: rule(.rspOffset(16))),
    .init(address: 0x1100, rule: rule(.rspOffset(32), .offset(-16))),
    .init(address: 0x1200, rule: rule(.rspOffset(8), ra: .endOfStack)),
    .init(address: 0x1300, rule: nil),
    .init(address: 0x1400, rule: rule(.unsupported)),
    .init(address: 0x1500, rule: rule(.pltExpression(threshold: 11))),
    .init(address: 0x1600, rule: rule(.rbpOffset(16), .offset(-16))),
    .init(address: 0x1700, rule: nil),
  ])

  static func tableFor(_ address: UInt64) -> (table: UnwindTable, bias: UInt64)? {
    address >= bias && address < bias + 0x10_0000 ? (table, bias) : nil
  }

  private func unwind(
    _ stack: SyntheticStack, rip: UInt64, rsp: UInt64, rbp: UInt64, maxDepth: Int = 127
  ) -> StackUnwinder.Unwind {
    StackUnwinder(maxDepth: maxDepth).unwind(
      from: .init(rip: rip, rsp: rsp, rbp: rbp), readStack: stack.read, tableFor: Self.tableFor)
  }

  /// `a` (sampled) ← called by `b` ← called by a frame-pointer function ← called by `start`.
  private func threeFrameStack() -> (SyntheticStack, StackUnwinder.Registers) {
    let s = Self.stackBase
    var stack = SyntheticStack(base: s, size: 0x100)
    stack.put(0x08, Self.bias + 0x1150)  // a's return address, into b (a's CFA is rsp+16)
    stack.put(0x20, s + 0x40)  // b saved its caller's rbp at CFA-16
    stack.put(0x28, 0x6000_0123)  // b's return address, into the frame-pointer function
    stack.put(0x40, 0)  // that function's saved rbp (the chain ends)
    stack.put(0x48, Self.bias + 0x1234)  // its return address, into start
    return (stack, .init(rip: Self.bias + 0x1010, rsp: s, rbp: 0xdead_beef))
  }

  @Test func unwindsTwoCallFrameInformationFramesAndAFramePointerFrame() {
    let (stack, registers) = threeFrameStack()
    let result = unwind(stack, rip: registers.rip, rsp: registers.rsp, rbp: registers.rbp)
    #expect(result.returnAddresses == [Self.bias + 0x1150, 0x6000_0123, Self.bias + 0x1234])
    #expect(result.stopReason == .reachedEnd)
  }

  @Test func stopsAtTheDepthLimit() {
    let (stack, registers) = threeFrameStack()
    let result = unwind(stack, rip: registers.rip, rsp: registers.rsp, rbp: registers.rbp, maxDepth: 2)
    #expect(result.returnAddresses == [Self.bias + 0x1150, 0x6000_0123])
    #expect(result.stopReason == .depthLimit)
  }

  @Test func stopsWhereTheCopiedStackEnds() {
    let (stack, registers) = threeFrameStack()
    // The same frames, but the copy ends before b's saved registers.
    var short = stack
    short.bytes = Array(stack.bytes.prefix(0x20))
    let result = unwind(short, rip: registers.rip, rsp: registers.rsp, rbp: registers.rbp)
    #expect(result.returnAddresses == [Self.bias + 0x1150])
    #expect(result.stopReason == .unreadableMemory)
  }

  @Test func fallsBackToFramePointersAndReportsWhenThatFails() {
    var stack = SyntheticStack(base: Self.stackBase, size: 0x100)
    stack.put(0x18, 0)  // a zero return address in a frame-pointer frame ends the walk
    var result = unwind(stack, rip: 0x6000_0010, rsp: Self.stackBase, rbp: Self.stackBase + 0x10)
    #expect(result.returnAddresses.isEmpty)
    #expect(result.stopReason == .reachedEnd)
    result = unwind(stack, rip: 0x6000_0010, rsp: Self.stackBase, rbp: 0)
    #expect(result.stopReason == .noUnwindInfo)
    result = unwind(stack, rip: 0x6000_0010, rsp: Self.stackBase, rbp: 0x1234)
    #expect(result.stopReason == .noUnwindInfo)
    // A gap in a covered file falls back too.
    result = unwind(stack, rip: Self.bias + 0x1350, rsp: Self.stackBase, rbp: 0)
    #expect(result.stopReason == .noUnwindInfo)
  }

  @Test func refusesAFrameThatDoesNotMoveUpTheStack() {
    var stack = SyntheticStack(base: Self.stackBase, size: 0x100)
    stack.put(0x08, 0x6000_0100)
    // rbp below rsp: following it would walk down the stack.
    let result = unwind(stack, rip: 0x6000_0010, rsp: Self.stackBase + 0x20, rbp: Self.stackBase)
    #expect(result.returnAddresses.isEmpty)
    #expect(result.stopReason == .stackNotGrowing)
  }

  @Test func stopsOnAnUnsupportedRule() {
    let stack = SyntheticStack(base: Self.stackBase, size: 0x100)
    let result = unwind(stack, rip: Self.bias + 0x1410, rsp: Self.stackBase, rbp: 0)
    #expect(result.stopReason == .badRule)
  }

  @Test func looksUpCallersAtTheReturnAddressMinusOne() {
    // a ends with a call to a noreturn function, so its return address is the first byte of b. Looked up
    // at the address itself it would take b's rule (rsp+32, and a zero return address there); at the call
    // instruction it takes a's (rsp+16), which leads on to start.
    var stack = SyntheticStack(base: Self.stackBase, size: 0x100)
    stack.put(0x08, Self.bias + 0x1100)
    stack.put(0x18, Self.bias + 0x1234)
    let result = unwind(stack, rip: Self.bias + 0x1010, rsp: Self.stackBase, rbp: 0)
    #expect(result.returnAddresses == [Self.bias + 0x1100, Self.bias + 0x1234])
    #expect(result.stopReason == .reachedEnd)
  }

  @Test func followsThePLTExpressionAndRBPBasedFrames() {
    var stack = SyntheticStack(base: Self.stackBase, size: 0x100)
    stack.put(0x00, Self.bias + 0x1234)
    stack.put(0x08, Self.bias + 0x1234)
    // Before the entry's push (offset 6 of the entry): CFA = rsp + 8.
    var result = unwind(stack, rip: Self.bias + 0x1516, rsp: Self.stackBase + 8, rbp: 0)
    #expect(result.returnAddresses == [Self.bias + 0x1234])
    // After it (offset 11): CFA = rsp + 16.
    result = unwind(stack, rip: Self.bias + 0x151b, rsp: Self.stackBase, rbp: 0)
    #expect(result.returnAddresses == [Self.bias + 0x1234])
    #expect(result.stopReason == .reachedEnd)
    // CFA = rbp + 16, rbp saved at CFA - 16, return address at CFA - 8.
    var framed = SyntheticStack(base: Self.stackBase, size: 0x100)
    framed.put(0x30, Self.stackBase + 0x80)
    framed.put(0x38, Self.bias + 0x1234)
    result = unwind(framed, rip: Self.bias + 0x1620, rsp: Self.stackBase, rbp: Self.stackBase + 0x30)
    #expect(result.returnAddresses == [Self.bias + 0x1234])
    #expect(result.stopReason == .reachedEnd)
  }
}
