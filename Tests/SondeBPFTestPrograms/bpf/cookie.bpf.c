// Counts hits per BPF cookie: one program attached at several places (or twice at one) tells the
// attachments apart by the cookie each link carries, for one process.
#include "sonde_bpf.h"
#include <bpf/usdt.bpf.h>

/// Process whose uprobe and USDT hits count (0: any).
const volatile __u32 target_tgid = 0;
/// Thread whose getpid calls count (0: any): tests in one process call getpid side by side.
const volatile __u32 target_tid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u64);  // the cookie
  __type(value, __u64);  // hits
} hits_by_cookie SEC(".maps");

static __always_inline int is_target(void) {
  return target_tgid == 0 || (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void count(__u64 cookie) {
  __u64 one = 1;
  __u64 *hits = bpf_map_lookup_elem(&hits_by_cookie, &cookie);
  if (hits) __sync_fetch_and_add(hits, 1);
  else if (bpf_map_update_elem(&hits_by_cookie, &cookie, &one, BPF_NOEXIST) != 0) {
    hits = bpf_map_lookup_elem(&hits_by_cookie, &cookie);  // another CPU inserted it first
    if (hits) __sync_fetch_and_add(hits, 1);
  }
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_cookie_tp(void *ctx) {
  if (target_tid == 0 || (__u32)bpf_get_current_pid_tgid() == target_tid) count(bpf_get_attach_cookie(ctx));
  return SONDE_TP_KEEP_EVENT;
}

SEC("uprobe")
int BPF_KPROBE(sonde_cookie_uprobe) {
  if (is_target()) count(bpf_get_attach_cookie(ctx));
  return 0;
}

SEC("usdt")
int BPF_USDT(sonde_cookie_usdt) {
  if (is_target()) count(bpf_usdt_cookie(ctx));
  return 0;
}

SEC("perf_event")
int sonde_cookie_perf(void *ctx) {
  count(bpf_get_attach_cookie(ctx));
  return 0;
}
