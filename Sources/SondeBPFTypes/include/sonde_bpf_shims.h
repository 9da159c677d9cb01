// System calls the BPF layer and its tests need that Swift cannot call directly (variadic syscall(2),
// GNU-only affinity API).
#ifndef SONDE_BPF_SHIMS_H
#define SONDE_BPF_SHIMS_H

/// bpf(cmd, attr, size), for the few probes libbpf 1.1 cannot express (newer link types).
/// Returns the result or -1 with errno set.
long sonde_bpf_syscall(int cmd, void *attr, unsigned int size);

/// getpid(2) as a real system call (never a cached value), for tests that count syscalls.
long sonde_syscall_getpid(void);

/// Pins the calling thread to one CPU (sched_setaffinity). Returns 0 or -1 with errno set.
int sonde_pin_current_thread(int cpu);

#endif
