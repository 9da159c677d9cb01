// Maps only, filled and drained from user space: a large hash (batch operations) and a per-CPU hash.
#include "sonde_bpf.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 100000);
  __type(key, __u64);
  __type(value, __u64);
} table SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u64);
} percpu_table SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_maps_noop(void *ctx) { return SONDE_TP_KEEP_EVENT; }
