/// How a program is attached: one options value per kind of hook, in the manner of libbpf's `*_opts`.
///
/// Every kind that the kernel lets carry a BPF cookie has a `cookie`: a 64-bit value the program reads with
/// `bpf_get_attach_cookie()` (for USDT, libbpf's `bpf_usdt_cookie()`). One program attached at many places
/// can tell them apart by it, without a map from address to meaning. Cookies ride on BPF links of perf
/// events (Linux 5.15) and on trampolines (Linux 6.0); a nonzero cookie on a kernel without them fails with
/// the `notSupported` kind and facility `.bpfCookie`. A zero cookie is the same as none and works anywhere.

/// Options shared by the hooks whose only option is the cookie: tracepoints, perf events, BTF-typed
/// programs (tp_btf, fentry, fexit).
public struct AttachOptions: Sendable, Equatable {
  /// The value `bpf_get_attach_cookie()` returns in the program (0: none).
  public var cookie: UInt64

  public init(cookie: UInt64 = 0) { self.cookie = cookie }
}

/// Options of a uprobe or uretprobe.
public struct UprobeOptions: Sendable, Equatable {
  /// The process to probe; nil probes every process that maps the binary.
  public var pid: Int32?
  /// Fire at the function's return (a uretprobe) instead of its entry.
  public var retprobe: Bool
  /// The value `bpf_get_attach_cookie()` returns in the program (0: none).
  public var cookie: UInt64
  /// File offset of a USDT-style semaphore the kernel increments while the probe is attached (0: none).
  public var referenceCounterOffset: UInt64

  public init(pid: Int32? = nil, retprobe: Bool = false, cookie: UInt64 = 0, referenceCounterOffset: UInt64 = 0) {
    self.pid = pid
    self.retprobe = retprobe
    self.cookie = cookie
    self.referenceCounterOffset = referenceCounterOffset
  }
}

/// Options of a USDT probe.
public struct USDTOptions: Sendable, Equatable {
  /// The process to probe; nil probes every process that maps the binary.
  public var pid: Int32?
  /// The value libbpf's `bpf_usdt_cookie()` returns in the program (0: none). libbpf keeps USDT cookies in
  /// its own spec map, so they work on any kernel that has USDT attachment.
  public var cookie: UInt64

  public init(pid: Int32? = nil, cookie: UInt64 = 0) {
    self.pid = pid
    self.cookie = cookie
  }
}

/// Options of a kprobe or kretprobe.
public struct KprobeOptions: Sendable, Equatable {
  /// Fire at the function's return (a kretprobe) instead of its entry.
  public var retprobe: Bool
  /// Byte offset into the function (entry probes only; 0 is the entry).
  public var offset: UInt64
  /// The value `bpf_get_attach_cookie()` returns in the program (0: none).
  public var cookie: UInt64

  public init(retprobe: Bool = false, offset: UInt64 = 0, cookie: UInt64 = 0) {
    self.retprobe = retprobe
    self.offset = offset
    self.cookie = cookie
  }
}
