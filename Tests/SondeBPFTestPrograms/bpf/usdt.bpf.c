// Counts a USDT probe's hits and sums its first argument, for one process (libbpf's usdt.bpf.h
// decodes the argument from the probe's ELF note spec).
#include "sonde_bpf.h"
#include <bpf/usdt.bpf.h>

const volatile __u32 target_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);  // [0] = hits, [1] = sum of argument 0
  __type(key, __u32);
  __type(value, __u64);
} usdt_stats SEC(".maps");

SEC("usdt")
int BPF_USDT(sonde_usdt_value, long value) {
  if (target_tgid != 0 && (bpf_get_current_pid_tgid() >> 32) != target_tgid) return 0;
  __u32 hits = 0, sum = 1;
  __u64 *count = bpf_map_lookup_elem(&usdt_stats, &hits);
  if (count) __sync_fetch_and_add(count, 1);
  __u64 *total = bpf_map_lookup_elem(&usdt_stats, &sum);
  if (total) __sync_fetch_and_add(total, (__u64)value);
  return 0;
}
