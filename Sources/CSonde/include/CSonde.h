// CSonde: the kernel's uapi definitions and the handful of shims Swift cannot express directly.
//
// Swift cannot call variadic C functions (syscall, ioctl) nor expand function-like macros
// (_IO/_IOW ioctl numbers), and forking a multi-threaded Swift process must be done in C with
// async-signal-safe calls only. Everything here is tiny and inline where possible.
#ifndef CSONDE_H
#define CSONDE_H

#include <linux/perf_event.h>
#include <linux/hw_breakpoint.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/types.h>

/// perf_event_open(2). Returns the fd or -1 with errno set.
int sonde_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                          unsigned long flags);

/// ioctl(2) with an integer argument.
int sonde_ioctl_value(int fd, unsigned long request, unsigned long value);
/// ioctl(2) with a pointer argument.
int sonde_ioctl_pointer(int fd, unsigned long request, void *pointer);

/// gettid(2), usable on any glibc.
pid_t sonde_gettid(void);

// perf ioctl request numbers (function-like macros in the uapi header).
extern const unsigned long SONDE_PERF_EVENT_IOC_ENABLE;
extern const unsigned long SONDE_PERF_EVENT_IOC_DISABLE;
extern const unsigned long SONDE_PERF_EVENT_IOC_RESET;
extern const unsigned long SONDE_PERF_EVENT_IOC_REFRESH;
extern const unsigned long SONDE_PERF_EVENT_IOC_PERIOD;
extern const unsigned long SONDE_PERF_EVENT_IOC_SET_OUTPUT;
extern const unsigned long SONDE_PERF_EVENT_IOC_SET_FILTER;
extern const unsigned long SONDE_PERF_EVENT_IOC_ID;
extern const unsigned long SONDE_PERF_EVENT_IOC_SET_BPF;
extern const unsigned long SONDE_PERF_EVENT_IOC_PAUSE_OUTPUT;

/// Size of struct perf_event_attr in the headers Sonde was built with.
extern const uint32_t SONDE_PERF_ATTR_SIZE;

/// Atomic accessors for shared ring-buffer words (perf mmap ring, BPF ringbuf).
static inline uint64_t sonde_load_acquire_u64(const volatile uint64_t *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void sonde_store_release_u64(volatile uint64_t *p, uint64_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint32_t sonde_load_acquire_u32(const volatile uint32_t *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/// A child forked and held before exec, so counters can be attached to it first
/// (perf's "workload prepare" dance: enable_on_exec then release the child).
struct sonde_paused_child {
  pid_t pid;
  int go_fd;     ///< write one byte to let the child exec; close without writing to make it exit 127
  int error_fd;  ///< read: EOF means exec succeeded, 4 bytes mean exec failed with that errno
};

/// Forks a child that waits for the go signal, then execve(path, argv, envp).
/// argv and envp are NULL-terminated. Returns 0, or -1 with errno set.
int sonde_spawn_paused(const char *path, char *const argv[], char *const envp[],
                       struct sonde_paused_child *out);

/// pidfd_open(2): a descriptor that polls readable when the process exits. -1 with errno on failure.
/// bpf(cmd, attr, size), for the few probes libbpf 1.1 cannot express (newer link types).
/// Returns the result or -1 with errno set.
long sonde_bpf_syscall(int cmd, void *attr, unsigned int size);

int sonde_pidfd_open(pid_t pid);

/// Installs a SIGINT/SIGTERM handler that writes 1 to `eventfd` (a StopToken's descriptor), waking every
/// wait that watches it. Only the CLI calls this; library code installs no signal handlers.
void sonde_install_stop_signals(int eventfd);
/// Unblocks SIGINT, SIGTERM, SIGHUP and SIGQUIT in the calling thread. A process inherits its parent's
/// signal mask across exec; a parent that spawned Sonde from a thread with those blocked (dispatch worker
/// threads block them) would otherwise leave Ctrl-C without effect.
void sonde_unblock_termination_signals(void);

/// For a long-lived daemon: at most `arenas` glibc malloc arenas (mallopt M_ARENA_MAX), so memory freed
/// by one thread is reused by the next instead of staying resident in a per-thread arena. Returns 0 on
/// failure (glibc returns 1 on success).
int sonde_limit_malloc_arenas(int arenas);

/// Gives free pages inside glibc's heaps back to the kernel (malloc_trim(0)). Returns 1 if any were.
int sonde_trim_heap(void);

#endif
