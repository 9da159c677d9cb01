// SondeSystem: the base every kernel-facing module stands on; it depends on CSonde only.
//
// - `SondeError`: kind, operation, errno, reason, remedy; `.notSupported` errors carry `Unsupported`
//   (facility + cause) for callers to branch on; `log` carries a verifier's whole log.
// - `FileDescriptor` (owning, closed once) and `Syscall`: the one funnel for read, write, pread, pwrite, open,
//   close, ioctl, mmap, fstat, epoll, perf_event_open, pidfd_open and raw bpf(2). Errno is captured at once,
//   EINTR retried. Outside this module no file calls those directly; the exceptions are libbpf's own API
//   calls in BPF (libbpf makes the syscalls) and PausedChild's fork-and-hold shim (CSonde), both wrapped in
//   owning types.
// - `EventWaiter` (an epoll set that always holds the engine's `StopToken`) and `BlockingThread` (the
//   dedicated thread that hosts blocking waits): how engines wait and how they are stopped, one at a time.
// - `OutputFile` (write-through for devices, FIFOs, symlinks; FILE.old only for regular files), the /proc and
//   small-file helpers, `Locked` (the one lock), the monotonic clock, did-you-mean suggestions, the version.
