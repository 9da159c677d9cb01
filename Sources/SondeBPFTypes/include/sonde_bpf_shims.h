// System calls the BPF tests need that Swift cannot call directly (variadic syscall(2), GNU-only affinity
// API). The bpf(2) shim the library needs is CSonde's (through SondeSystem's Syscall.bpf).
#ifndef SONDE_BPF_SHIMS_H
#define SONDE_BPF_SHIMS_H

// The shared structs, named here too: a cached module does not notice a header added to its directory.
#include "sonde/events.h"
#include "sonde/profile.h"
#include "sonde/trace.h"

/// getpid(2) as a real system call (never a cached value), for tests that count syscalls.
long sonde_syscall_getpid(void);

/// Pins the calling thread to one CPU (sched_setaffinity). Returns 0 or -1 with errno set.
int sonde_pin_current_thread(int cpu);

#endif
