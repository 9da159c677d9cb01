import PerfEvents
import Profiles

/// Turns sample callchains into profile stacks, remembering each distinct raw chain's stack id: a chain seen
/// again costs one hash of its words, and only a new one is split into locations.
///
/// A chain is split at its PERF_CONTEXT markers into kernel frames then user frames, each leaf first, keeping
/// at most `maxFrames` (the leaf end); a chain of only kernel frames (DWARF mode) gets the user IP from the
/// sampled registers; a sample without a chain is its IP alone.
public struct CallchainStacks {
  /// Frames kept per callchain (perf report's default `--max-stack`, the kernel's `perf_event_max_stack`).
  let maxFrames: Int
  private var raw = SequenceTable<UInt64>(capacity: 4096)
  private var stackOfRaw: [Int] = []
  private var key: [UInt64] = []
  private var kernel: [UInt32] = []
  private var user: [UInt32] = []

  init(maxFrames: Int) { self.maxFrames = maxFrames }

  /// The stack id of sample `s` (of a record with `misc`, in process `pid`), adding it to `builder` when new.
  mutating func stack(_ s: SampleView, misc: UInt16, pid: Int32, into builder: inout ProfileBuilder) -> Int {
    let kernelMode = misc & RecordMisc.cpumodeMask == RecordMisc.kernel
    // The address space, the mode and whether a user IP follows, then the user IP and the chain (or the IP),
    // copied whole from the record into a reused buffer.
    let words = 2 + max(s.callchainCount, 1)
    if key.count < words { key = [UInt64](repeating: 0, count: max(words, key.count * 2)) }
    let (id, inserted) = key.withUnsafeMutableBufferPointer { buffer -> (id: Int, inserted: Bool) in
      buffer[0] = UInt64(UInt32(bitPattern: pid)) << 2 | (kernelMode ? 1 : 0) | (s.userIP != nil ? 2 : 0)
      buffer[1] = s.userIP ?? 0
      if s.callchainCount == 0 {
        buffer[2] = s.head.ip
      } else if let source = s.callchainBytes.baseAddress {
        UnsafeMutableRawPointer(buffer.baseAddress! + 2).copyMemory(from: source, byteCount: s.callchainBytes.count)
      }
      return raw.intern(UnsafeBufferPointer(rebasing: buffer[0..<words]))
    }
    if !inserted { return stackOfRaw[id] }
    let stack = split(s, kernelMode: kernelMode, pid: pid, into: &builder)
    stackOfRaw.append(stack)
    return stack
  }

  private mutating func split(_ s: SampleView, kernelMode: Bool, pid: Int32, into builder: inout ProfileBuilder)
    -> Int
  {
    kernel.removeAll(keepingCapacity: true)
    user.removeAll(keepingCapacity: true)
    Self.forEachFrame(s, kernelMode: kernelMode, maxFrames: maxFrames) { address, kernelFrame in
      let index = kernelFrame ? kernel.count : user.count
      let location = builder.location(
        Profile.Location(address: address, pid: pid, isKernel: kernelFrame, isReturnAddress: index > 0))
      if kernelFrame { kernel.append(location) } else { user.append(location) }
    }
    kernel.append(contentsOf: user)
    return kernel.withUnsafeBufferPointer { builder.stack($0) }
  }

  /// Calls `visit(address, isKernel)` for each frame of the sample, leaf first, as the type's overview says;
  /// the user IP from the registers comes last, when the chain had no user frame.
  public static func forEachFrame(
    _ s: SampleView, kernelMode: Bool, maxFrames: Int, _ visit: (UInt64, Bool) -> Void
  ) {
    var frames = 0
    var sawUser = false
    if s.callchainCount == 0 {
      visit(s.head.ip, kernelMode)
      frames = 1
      sawUser = !kernelMode
    } else {
      var inKernel = kernelMode
      for i in 0..<s.callchainCount {
        let a = s.callchain(i)
        if CallchainContext.isMarker(a) {
          // Guest and hypervisor contexts are not attributed.
          if a == CallchainContext.kernel { inKernel = true } else if a == CallchainContext.user { inKernel = false }
          continue
        }
        if frames == maxFrames { break }
        visit(a, inKernel)
        frames += 1
        if !inKernel { sawUser = true }
      }
    }
    if !sawUser, let ip = s.userIP { visit(ip, false) }
  }
}
