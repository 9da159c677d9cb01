import CSonde
import SondeSystem

/// A description of one perf event, before anything touches the kernel: what `-e` names after parsing.
///
/// `attributes()` turns it into the `perf_event_attr` the kernel takes; openers add target-specific bits
/// (inherit, enable_on_exec, sampling) on top.
public struct EventSpec: Sendable, Hashable, CustomStringConvertible {
  /// The name as perf prints it, including modifiers the user wrote (`cycles:u`, `sched:sched_switch`).
  public var name: String
  /// `perf_event_attr.type`: PERF_TYPE_* or a dynamic PMU's type from sysfs.
  public var type: UInt32
  public var config: UInt64
  public var config1: UInt64 = 0
  public var config2: UInt64 = 0
  public var modifiers = EventModifiers()
  /// For `mem:` breakpoints: HW_BREAKPOINT_* type, address and length.
  public var breakpoint: Breakpoint?
  /// A sampling period given in the event itself (`pmu/…,period=N/`).
  public var period: UInt64?
  /// A sampling frequency given in the event itself (`pmu/…,freq=N/`).
  public var frequency: UInt64?
  /// The unit perf prints: "msec" for the clock events (which count nanoseconds), else "".
  public var unit: String = ""

  public init(name: String, type: UInt32, config: UInt64) {
    self.name = name
    self.type = type
    self.config = config
  }

  /// A hardware breakpoint (`mem:ADDR[/LEN][:rwx]`).
  public struct Breakpoint: Sendable, Hashable {
    public var type: UInt32
    public var address: UInt64
    public var length: UInt64
  }

  /// Whether this is a clock event whose count is nanoseconds of time.
  public var isClock: Bool {
    type == PERF_TYPE_SOFTWARE.rawValue
      && (config == UInt64(PERF_COUNT_SW_TASK_CLOCK.rawValue) || config == UInt64(PERF_COUNT_SW_CPU_CLOCK.rawValue))
  }

  /// Whether this event needs the machine's hardware PMU.
  public var needsHardwarePMU: Bool {
    type == PERF_TYPE_HARDWARE.rawValue || type == PERF_TYPE_HW_CACHE.rawValue || type == PERF_TYPE_RAW.rawValue
  }

  public var description: String { name }

  /// The kernel attributes for counting this event (disabled, not inherited; callers adjust).
  public func attributes() -> perf_event_attr {
    var attr = perf_event_attr()
    attr.size = SONDE_PERF_ATTR_SIZE
    attr.type = type
    attr.config = config
    attr.config1 = config1
    attr.config2 = config2
    if let breakpoint {
      attr.bp_type = breakpoint.type
      attr.bp_addr = breakpoint.address
      attr.bp_len = breakpoint.length
    }
    if let frequency {
      attr.freq = 1
      attr.sample_freq = frequency
    } else if let period {
      attr.sample_period = period
    }
    modifiers.apply(to: &attr)
    return attr
  }
}

/// The `:ukhGHpDeI` suffix of an event name.
public struct EventModifiers: Sendable, Hashable {
  public var excludeUser = false
  public var excludeKernel = false
  public var excludeHypervisor = false
  public var excludeHost = false
  public var excludeGuest = false
  public var excludeIdle = false
  /// 0–3: how precise the sampled instruction pointer must be (`:p`, `:pp`, `:ppp`).
  public var precise: UInt8 = 0
  public var pinned = false
  public var exclusive = false

  public init() {}

  /// Applies these modifiers to kernel attributes.
  public func apply(to attr: inout perf_event_attr) {
    attr.exclude_user = excludeUser ? 1 : 0
    attr.exclude_kernel = excludeKernel ? 1 : 0
    attr.exclude_hv = excludeHypervisor ? 1 : 0
    attr.exclude_host = excludeHost ? 1 : 0
    attr.exclude_guest = excludeGuest ? 1 : 0
    attr.exclude_idle = excludeIdle ? 1 : 0
    attr.precise_ip = UInt64(precise)
    attr.pinned = pinned ? 1 : 0
    attr.exclusive = exclusive ? 1 : 0
  }

  /// Parses perf's modifier letters. `u`, `k` and `h` select privilege levels: naming any of them
  /// excludes the ones not named (perf's rule). `G`/`H` count guest/host only.
  public static func parse(_ text: Substring, event: String) throws(SondeError) -> EventModifiers {
    var result = EventModifiers()
    var user = false
    var kernel = false
    var hypervisor = false
    for letter in text {
      switch letter {
      case "u": user = true
      case "k": kernel = true
      case "h": hypervisor = true
      case "G": result.excludeHost = true
      case "H": result.excludeGuest = true
      case "I": result.excludeIdle = true
      case "p":
        guard result.precise < 3 else {
          throw .invalid("parse event '\(event)'", "at most three 'p' modifiers (precise levels 0–3)")
        }
        result.precise += 1
      case "P": result.precise = 3
      case "D": result.pinned = true
      case "e": result.exclusive = true
      default:
        throw .invalid(
          "parse event '\(event)'", "unknown modifier '\(letter)'",
          remedy:
            "modifiers are u (user), k (kernel), h (hypervisor), G (guest), H (host), I (no idle), p/pp/ppp (precise), D (pinned), e (exclusive)"
        )
      }
    }
    if user || kernel || hypervisor {
      result.excludeUser = !user
      result.excludeKernel = !kernel
      result.excludeHypervisor = !hypervisor
    }
    return result
  }
}

/// Events that the kernel schedules together (`{a,b}`): all on the PMU at once, or none.
public struct EventGroup: Sendable, Hashable {
  public var events: [EventSpec]
  /// True for `{…}` groups; a single event outside braces is a group of one with this false.
  public var isExplicitGroup: Bool

  public init(events: [EventSpec], isExplicitGroup: Bool) {
    self.events = events
    self.isExplicitGroup = isExplicitGroup
  }
}
