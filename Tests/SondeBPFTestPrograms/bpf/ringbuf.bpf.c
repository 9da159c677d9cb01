// Produces one sonde_event per getpid call of the target thread, into a BPF ringbuf (sonde_rb_produce)
// or a perf event array (sonde_pb_produce). Every failed reserve/output is counted in stats[DROPS]:
// the kernel keeps no drop counter for either transport.
#include "sonde_bpf.h"

const volatile __u32 target_tid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SONDE_STAT_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

static __always_inline __u64 *stat(__u32 slot) { return bpf_map_lookup_elem(&stats, &slot); }

static __always_inline int next_event(struct sonde_event *event) {
  __u64 id = bpf_get_current_pid_tgid();
  if (target_tid != 0 && (__u32)id != target_tid) return 0;
  __u64 *sequence = stat(SONDE_STAT_SEQUENCE);
  if (!sequence) return 0;
  event->seq = __sync_fetch_and_add(sequence, 1);
  event->tid = (__u32)id;
  event->cpu = bpf_get_smp_processor_id();
  event->timestamp_ns = bpf_ktime_get_ns();
  return 1;
}

static __always_inline void count_drop(void) {
  __u64 *drops = stat(SONDE_STAT_DROPS);
  if (drops) __sync_fetch_and_add(drops, 1);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_rb_produce(void *ctx) {
  struct sonde_event event;
  if (!next_event(&event)) return SONDE_TP_KEEP_EVENT;
  struct sonde_event *slot = bpf_ringbuf_reserve(&events, sizeof(*slot), 0);
  if (!slot) {
    count_drop();
    return SONDE_TP_KEEP_EVENT;
  }
  *slot = event;
  bpf_ringbuf_submit(slot, 0);
  return SONDE_TP_KEEP_EVENT;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_pb_produce(void *ctx) {
  struct sonde_event event;
  if (!next_event(&event)) return SONDE_TP_KEEP_EVENT;
  if (bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &event, sizeof(event)) < 0) count_drop();
  return SONDE_TP_KEEP_EVENT;
}
