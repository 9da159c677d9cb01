import CSonde
import PerfEvents
import SondeBPFTypes

#if canImport(Glibc)
  import Glibc
#endif

/// The calling thread's id (BPF programs filter on it so parallel tests do not disturb each other).
var currentTID: UInt32 { UInt32(sonde_gettid()) }

/// Makes exactly `count` getpid system calls on this thread (syscall(SYS_getpid): never a cached value).
func callGetpid(_ count: Int) {
  for _ in 0..<count { _ = sonde_syscall_getpid() }
}
