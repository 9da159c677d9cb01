// Counts calls of a user-space function (uprobe) and histograms its return values (uretprobe),
// for one process.
#include "sonde_bpf.h"

/// Process to observe (0: any).
const volatile __u32 target_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} calls SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __s64);
  __type(value, __u64);
} returns SEC(".maps");

static __always_inline int is_target(void) {
  return target_tgid == 0 || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("uprobe")
int BPF_KPROBE(sonde_uprobe) {
  if (!is_target()) return 0;
  __u32 zero = 0;
  __u64 *count = bpf_map_lookup_elem(&calls, &zero);
  if (count) __sync_fetch_and_add(count, 1);
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(sonde_uretprobe, long ret) {
  if (!is_target()) return 0;
  __s64 key = ret;
  __u64 one = 1;
  __u64 *count = bpf_map_lookup_elem(&returns, &key);
  if (count) __sync_fetch_and_add(count, 1);
  else bpf_map_update_elem(&returns, &key, &one, BPF_NOEXIST);
  return 0;
}
