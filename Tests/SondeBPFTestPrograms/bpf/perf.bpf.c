// Counts perf_event samples per CPU (a per-CPU array: one slot per possible CPU).
#include "sonde_bpf.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ticks SEC(".maps");

SEC("perf_event")
int sonde_perf_tick(void *ctx) {
  __u32 zero = 0;
  __u64 *count = bpf_map_lookup_elem(&ticks, &zero);
  if (count) *count += 1;
  return 0;
}
