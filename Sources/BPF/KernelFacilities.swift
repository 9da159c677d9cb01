import PerfEvents
import SondeSystem

/// Facts about the running kernel read from sysfs/procfs/tracefs, used to explain failures.
enum KernelFacilities {
  /// Why kprobes are unavailable, or nil if the kernel has them (a kprobe PMU or tracefs kprobe_events).
  static var kprobesMissingReason: String? {
    if fileExists("/sys/bus/event_source/devices/kprobe/type") { return nil }
    if fileExists("/sys/kernel/tracing/kprobe_events") || fileExists("/sys/kernel/debug/tracing/kprobe_events") {
      return nil
    }
    return
      "kprobes are not available (CONFIG_KPROBES is not set: no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in tracefs)"
  }

  /// Whether the process holds the capabilities BPF tracing needs (CAP_BPF+CAP_PERFMON, or CAP_SYS_ADMIN).
  static var hasBPFCapabilities: Bool {
    BPFErrors.has(.sysAdmin) || (BPFErrors.has(.bpf) && BPFErrors.has(.perfmon))
  }

  /// Whether the kernel exposes its BTF (needed for CO-RE, tp_btf and fentry).
  static var hasKernelBTF: Bool { fileExists("/sys/kernel/btf/vmlinux") }
}
