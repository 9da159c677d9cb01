// SondeBPFTypes: the structs shared with the BPF programs (headers only) and the raw bpf(2) shim.
#define _GNU_SOURCE
#include "sonde/events.h"
#include "sonde_bpf_syscall.h"

#include <sys/syscall.h>
#include <unistd.h>

long sonde_bpf_syscall(int cmd, void *attr, unsigned int size) { return syscall(__NR_bpf, cmd, attr, size); }
