import CSonde

/// perf_event_attr settings for sampling, applied on top of an `EventSpec`'s attributes.
public enum SamplingAttributes {
  /// The software "dummy" event: never counts, used to carry side-band records (mmap, comm, task)
  /// into a ring of their own. Excludes the kernel like perf's `dummy:u`.
  public static func dummy() -> perf_event_attr {
    var attr = perf_event_attr()
    attr.size = SONDE_PERF_ATTR_SIZE
    attr.type = PERF_TYPE_SOFTWARE.rawValue
    attr.config = UInt64(PERF_COUNT_SW_DUMMY.rawValue)
    attr.exclude_kernel = 1
    return attr
  }

  /// Sets up `attr` for sampling the way `perf record` does: frequency or period, IP/TID/TIME/PERIOD/
  /// ID/CPU in every sample, sample_id_all, mmap/comm/task tracking, and the callchain mode.
  public static func configureSampling(
    _ attr: inout perf_event_attr, frequency: UInt64?, period: UInt64?, callGraph: CallGraphMode,
    trackSideBand: Bool, systemWide: Bool
  ) {
    if let period {
      attr.sample_period = period
      attr.freq = 0
    } else {
      attr.sample_freq = frequency ?? 4000
      attr.freq = 1
    }
    // PERIOD varies per sample only in frequency mode; with a fixed period (-c) it is the attr's, so it
    // is left out of each sample as perf does (readers weigh by attr.sample_period).
    var type: SampleType = [.identifier, .ip, .tid, .time]
    if period == nil { type.insert(.period) }
    if systemWide { type.insert(.cpu) }
    switch callGraph {
    case .none: break
    case .framePointer:
      type.insert(.callchain)
    case .dwarf(let stackSize):
      type.formUnion([.callchain, .regsUser, .stackUser])
      attr.sample_regs_user = x86UserRegisterMask
      attr.sample_stack_user = stackSize
      attr.exclude_callchain_user = 1
    }
    attr.sample_type = type.rawValue
    attr.sample_id_all = 1
    attr.disabled = 1
    if trackSideBand {
      attr.mmap = 1
      attr.mmap2 = 1
      attr.comm = 1
      attr.comm_exec = 1
      attr.task = 1
    }
  }

  /// The x86-64 registers perf samples for DWARF unwinding (PERF_REGS_MASK: ax…r15, excluding segment
  /// registers): what `perf record --call-graph dwarf` records.
  public static let x86UserRegisterMask: UInt64 = 0xff0fff
}

/// How samples capture call stacks.
public enum CallGraphMode: Sendable, Hashable {
  case none
  /// The kernel walks frame pointers (PERF_SAMPLE_CALLCHAIN).
  case framePointer
  /// Copy registers and this many bytes of user stack per sample, for DWARF unwinding later.
  case dwarf(stackSize: UInt32)
}

/// Register numbers of `PERF_SAMPLE_REGS_USER` (uapi asm/perf_regs.h, `enum perf_event_x86_regs`): bit N of
/// `sample_regs_user` samples register N, and the values come in bit order.
public enum UserRegisters {
  public static let x86FramePointer = 6  // PERF_REG_X86_BP
  public static let x86StackPointer = 7  // PERF_REG_X86_SP
  public static let x86InstructionPointer = 8  // PERF_REG_X86_IP
}
