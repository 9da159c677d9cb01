// The off-CPU profiler: where threads wait. At sched_switch a targeted thread that blocks (it leaves the CPU
// in a sleeping state, not preempted) has its stacks taken and the time remembered; when the scheduler
// switches to it again, the interval is added to its (pid, user stack, kernel stack, comm) key, so output
// is weighted by time off the CPU. Intervals shorter than `min_block_ns` are counted and dropped.
//
// Unlike the CPU profiler's maps, the stack map here is not double-buffered: a stack id taken when a thread
// blocks is used when it wakes, possibly after a drain, so stacks stay in the map for the whole run (size it
// with --stack-map-size; collisions are counted).
#include "profile_common.h"

#define TASK_RUNNING 0

const volatile __u64 min_block_ns = 1000;

struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct sonde_profile_stack);
} offcpu_stacks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct sonde_profile_key);
  __type(value, struct sonde_offcpu_value);
} offcpu_counts SEC(".maps");

/// A thread that blocked: when, and where.
struct blocked {
  __u64 since_ns;
  struct sonde_profile_key key;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32);
  __type(value, struct blocked);
} offcpu_start SEC(".maps");

static __always_inline __s64 take_stack(void *ctx, __u64 flags) {
  long id = bpf_get_stackid(ctx, &offcpu_stacks, flags);
  if (id == -EEXIST) count_stat(SONDE_PROFILE_STAT_COLLISIONS);
  else if (id < 0) count_stat(SONDE_PROFILE_STAT_STACK_ERRORS);
  return id;
}

/// The current task (prev) is leaving the CPU: remember it if it blocks; then account for next, if it had.
/// `kernel_skip`: frames of the BPF machinery itself at the top of the kernel stack (not the task's).
static __always_inline int on_switch(void *ctx, bool blocks, __u32 next_tid, __u64 kernel_skip) {
  __u64 now = bpf_ktime_get_ns();
  __u64 id = bpf_get_current_pid_tgid();
  __u32 pid = id >> 32;
  __u32 tid = (__u32)id;
  if (blocks && tid != 0 && is_target(pid)) {
    struct blocked b = {};
    b.since_ns = now;
    b.key.pid = pid;
    b.key.user_stack = SONDE_PROFILE_NO_STACK;
    b.key.kernel_stack = SONDE_PROFILE_NO_STACK;
    bpf_get_current_comm(b.key.comm, sizeof(b.key.comm));
    if (kernel_stacks) b.key.kernel_stack = take_stack(ctx, kernel_skip & BPF_F_SKIP_FIELD_MASK);
    if (user_stacks && has_user_stack(pid)) b.key.user_stack = take_stack(ctx, BPF_F_USER_STACK);
    if (bpf_map_update_elem(&offcpu_start, &tid, &b, BPF_ANY) != 0) count_stat(SONDE_PROFILE_STAT_START_FULL);
    announce(pid);
  }
  struct blocked *was = bpf_map_lookup_elem(&offcpu_start, &next_tid);
  if (!was) return 0;
  __u64 delta = now - was->since_ns;
  struct sonde_profile_key key = was->key;
  bpf_map_delete_elem(&offcpu_start, &next_tid);
  if (delta < min_block_ns) {
    count_stat(SONDE_PROFILE_STAT_SHORT_BLOCKS);
    return 0;
  }
  count_stat(SONDE_PROFILE_STAT_SAMPLES);
  struct sonde_offcpu_value *value = bpf_map_lookup_elem(&offcpu_counts, &key);
  if (value) {
    __sync_fetch_and_add(&value->nanoseconds, delta);
    __sync_fetch_and_add(&value->count, 1);
    return 0;
  }
  struct sonde_offcpu_value first = {.nanoseconds = delta, .count = 1};
  long err = bpf_map_update_elem(&offcpu_counts, &key, &first, BPF_NOEXIST);
  if (err == -EEXIST) {
    value = bpf_map_lookup_elem(&offcpu_counts, &key);
    if (value) {
      __sync_fetch_and_add(&value->nanoseconds, delta);
      __sync_fetch_and_add(&value->count, 1);
    }
  } else if (err) {
    count_stat(SONDE_PROFILE_STAT_MAP_FULL);
  }
  return 0;
}

/// tp_btf (Linux 5.5+): the task pointers, typed. A preempted task is still runnable: it does not block.
SEC("tp_btf/sched_switch")
int BPF_PROG(sonde_offcpu_btf, bool preempt, struct task_struct *prev, struct task_struct *next) {
  // The stack is taken from inside the program: its own frame and bpf_trace_run* sit above __schedule.
  return on_switch(ctx, !preempt && prev->__state != TASK_RUNNING, next->pid, 2);
}

/// syscalls-era fallback: the sched:sched_switch tracepoint's fixed record.
struct sched_switch_record {
  __u64 common;
  char prev_comm[16];
  __s32 prev_pid;
  __s32 prev_prio;
  __s64 prev_state;
  char next_comm[16];
  __s32 next_pid;
  __s32 next_prio;
};

SEC("tracepoint/sched/sched_switch")
int sonde_offcpu_tp(struct sched_switch_record *record) {
  // A tracepoint program's stack starts where the tracepoint fired (perf_fetch_caller_regs): nothing to skip.
  on_switch(record, record->prev_state != TASK_RUNNING, (__u32)record->next_pid, 0);
  return SONDE_TP_KEEP_EVENT;
}
