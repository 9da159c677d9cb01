// The raw bpf(2) system call, for the few probes libbpf 1.1 cannot express (newer link types).
#ifndef SONDE_BPF_SYSCALL_H
#define SONDE_BPF_SYSCALL_H

/// bpf(cmd, attr, size). Returns the result or -1 with errno set.
long sonde_bpf_syscall(int cmd, void *attr, unsigned int size);

#endif
