// SondeBPFTypes: the structs shared with the BPF programs (headers only) and shims its tests use.
#define _GNU_SOURCE
#include "sonde/events.h"
#include "sonde_bpf_shims.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

long sonde_syscall_getpid(void) { return syscall(SYS_getpid); }

int sonde_pin_current_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set);
}
