// Counts getpid system calls of one thread through three attach flavours: a syscall tracepoint, the
// raw sys_enter tracepoint and the BTF-typed sys_enter tracepoint (tp_btf, reading task_struct by CO-RE).
#include "sonde_bpf.h"

/// Thread to count (0: any). Set through rodata before load so parallel tests do not disturb counts.
const volatile __u32 target_tid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SONDE_COUNT_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot) {
  __u64 *value = bpf_map_lookup_elem(&counts, &slot);
  if (value) __sync_fetch_and_add(value, 1);
}

static __always_inline int is_target(void) {
  return target_tid == 0 || (__u32)bpf_get_current_pid_tgid() == target_tid;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_tp_getpid(void *ctx) {
  if (is_target()) bump(SONDE_COUNT_TRACEPOINT);
  return SONDE_TP_KEEP_EVENT;
}

SEC("raw_tp/sys_enter")
int sonde_raw_getpid(struct bpf_raw_tracepoint_args *ctx) {
  if (ctx->args[1] == SONDE_NR_GETPID && is_target()) bump(SONDE_COUNT_RAW_TP);
  return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sonde_btf_getpid, struct pt_regs *regs, long id) {
  struct task_struct *task = bpf_get_current_task_btf();
  if (id == SONDE_NR_GETPID && (target_tid == 0 || task->pid == (int)target_tid)) bump(SONDE_COUNT_TP_BTF);
  return 0;
}
