// The floor of `sonde bench overhead`: a perf_event program on the same per-CPU cpu-clock events the
// profilers sample with, which only counts its runs. What the workload loses under it is the cost of the
// sampling interrupt and of running a BPF program at all; every profiler's cost above it is what its own
// design adds (stack walks, map updates, records, the reader in user space).
#include "sonde_bpf.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} floor_samples SEC(".maps");

SEC("perf_event")
int sonde_bench_floor(void *ctx) {
  __u32 zero = 0;
  __u64 *count = bpf_map_lookup_elem(&floor_samples, &zero);
  if (count) *count += 1;
  return 0;
}
