import PerfEvents
import Profiles

/// Turns sample callchains into profile stacks, remembering each distinct raw chain's stack id: a chain seen
/// again costs one hash of its words, and only a new one is split into locations.
///
/// A chain is split at its PERF_CONTEXT markers into kernel frames then user frames, each leaf first, keeping
/// at most `maxFrames` (the leaf end); a chain of only kernel frames (DWARF mode) gets the user frames a
/// `DwarfStackUnwinding` found, else the user IP from the sampled registers; a sample without a chain is its
/// IP alone.
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
  /// `userFrames` are the user frames unwound from the sample's stack copy (DWARF mode), leaf first.
  mutating func stack(
    _ s: SampleView, misc: UInt16, pid: Int32, userFrames: [UInt64]? = nil, into builder: inout ProfileBuilder
  ) -> Int {
    let kernelMode = misc & RecordMisc.cpumodeMask == RecordMisc.kernel
    // The address space, the mode and whether a user IP follows, then the user IP and the chain (or the IP),
    // copied whole from the record into a reused buffer, then any unwound user frames.
    let unwound = userFrames ?? []
    let chainWords = max(s.callchainCount, 1)
    let words = 2 + chainWords + unwound.count
    if key.count < words { key = [UInt64](repeating: 0, count: max(words, key.count * 2)) }
    let (id, inserted) = key.withUnsafeMutableBufferPointer { buffer -> (id: Int, inserted: Bool) in
      buffer[0] = UInt64(UInt32(bitPattern: pid)) << 2 | (kernelMode ? 1 : 0) | (s.userIP != nil ? 2 : 0)
      buffer[1] = s.userIP ?? 0
      if s.callchainCount == 0 {
        buffer[2] = s.head.ip
      } else if let source = s.callchainBytes.baseAddress {
        UnsafeMutableRawPointer(buffer.baseAddress! + 2).copyMemory(from: source, byteCount: s.callchainBytes.count)
      }
      for (i, frame) in unwound.enumerated() { buffer[2 + chainWords + i] = frame }
      return raw.intern(UnsafeBufferPointer(rebasing: buffer[0..<words]))
    }
    if !inserted { return stackOfRaw[id] }
    let stack = split(s, kernelMode: kernelMode, pid: pid, userFrames: userFrames, into: &builder)
    stackOfRaw.append(stack)
    return stack
  }

  private mutating func split(
    _ s: SampleView, kernelMode: Bool, pid: Int32, userFrames: [UInt64]?, into builder: inout ProfileBuilder
  ) -> Int {
    kernel.removeAll(keepingCapacity: true)
    user.removeAll(keepingCapacity: true)
    Self.forEachFrame(s, kernelMode: kernelMode, maxFrames: maxFrames, userFrames: userFrames) { address, kernelFrame in
      let index = kernelFrame ? kernel.count : user.count
      let location = builder.location(
        Profile.Location(address: address, pid: pid, isKernel: kernelFrame, isReturnAddress: index > 0))
      if kernelFrame { kernel.append(location) } else { user.append(location) }
    }
    kernel.append(contentsOf: user)
    return kernel.withUnsafeBufferPointer { builder.stack($0) }
  }

  /// Calls `visit(address, isKernel)` for each frame of the sample, leaf first, as the type's overview says;
  /// when the chain had no user frame, the unwound `userFrames` come last, else the user IP from the registers.
  public static func forEachFrame(
    _ s: SampleView, kernelMode: Bool, maxFrames: Int, userFrames: [UInt64]? = nil, _ visit: (UInt64, Bool) -> Void
  ) {
    var frames = 0
    var sawUser = false
    if s.callchainCount == 0 {
      // A user-mode IP is also the first unwound frame, when there are any.
      if kernelMode || userFrames == nil {
        visit(s.head.ip, kernelMode)
        frames = 1
        sawUser = !kernelMode
      }
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
        // The unwound frames start at the user IP, which is all the chain holds of user space in DWARF mode.
        if !inKernel && userFrames != nil { continue }
        visit(a, inKernel)
        frames += 1
        if !inKernel { sawUser = true }
      }
    }
    guard !sawUser else { return }
    if let userFrames {
      for address in userFrames where frames < maxFrames {
        visit(address, false)
        frames += 1
      }
    } else if let ip = s.userIP {
      visit(ip, false)
    }
  }
}
