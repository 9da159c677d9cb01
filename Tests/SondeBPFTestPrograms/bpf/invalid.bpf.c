// Deliberately invalid: reads 8 bytes past the end of an 8-byte map value. The verifier must reject it.
#include "sonde_bpf.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} values SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_bad_oob(void *ctx) {
  __u32 zero = 0;
  __u64 *value = bpf_map_lookup_elem(&values, &zero);
  if (!value) return SONDE_TP_KEEP_EVENT;
  return *(volatile __u64 *)((char *)value + 8) != 0;
}
