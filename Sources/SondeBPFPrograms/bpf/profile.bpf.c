// The eBPF CPU profiler: a perf_event program on a per-CPU sampling event that aggregates in the kernel.
//
// Each sample becomes one key — (pid, user stack id, kernel stack id, comm) — whose count is bumped in a
// hash map; the stacks themselves live in a BPF stack map (deduplicated by the kernel). User space drains
// on an interval with batch lookup-and-delete. The maps come in two halves: the program writes into the
// half `control[0]` names, and user space flips it before draining the other one, so a drain never races
// with samples landing in the maps it is reading and deleting (a stack id is never deleted under a count
// that still refers to it).
//
// A process seen for the first time is announced through the `new_pids` ringbuf (one small record, with a
// wake-up), so user space reads its mappings while it still exists; an exec or an executable mmap forgets
// that it was seen, so the next sample announces it again.
#include "sonde_bpf.h"

#include <sonde/profile.h>

#define EEXIST 17
#define PF_KTHREAD 0x00200000
#define PROT_EXEC 0x4

/// 1: sample only the processes in `targets` (set before load).
const volatile __u32 filter_pids = 0;
/// Which stacks to take (set before load): --user-only clears kernel_stacks, --kernel-only user_stacks.
const volatile __u32 user_stacks = 1;
const volatile __u32 kernel_stacks = 1;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} control SEC(".maps");

#define STACK_MAP(name)                                    \
  struct {                                                 \
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);                \
    __uint(max_entries, 8192);                             \
    __type(key, __u32);                                    \
    __type(value, struct sonde_profile_stack);             \
  } name SEC(".maps")

#define COUNTS_MAP(name)                                   \
  struct {                                                 \
    __uint(type, BPF_MAP_TYPE_HASH);                       \
    __uint(max_entries, 16384);                            \
    __type(key, struct sonde_profile_key);                 \
    __type(value, __u64);                                  \
  } name SEC(".maps")

STACK_MAP(stacks0);
STACK_MAP(stacks1);
COUNTS_MAP(counts0);
COUNTS_MAP(counts1);

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SONDE_PROFILE_STAT_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} profile_stats SEC(".maps");

/// The processes to sample when filter_pids is set (a command and its descendants, or -p PIDs).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u8);
} targets SEC(".maps");

/// Processes already announced through new_pids.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 32768);
  __type(key, __u32);
  __type(value, __u8);
} seen SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} new_pids SEC(".maps");

/// The ringbuf transport's samples (sized by user space; one page when that transport is not used).
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} samples SEC(".maps");

static __always_inline void count_stat(__u32 slot) {
  __u64 *value = bpf_map_lookup_elem(&profile_stats, &slot);
  if (value) *value += 1;
}

static __always_inline void announce(__u32 pid) {
  __u8 one = 1;
  if (pid == 0 || bpf_map_update_elem(&seen, &pid, &one, BPF_NOEXIST) != 0) return;
  struct sonde_profile_pid_event *event = bpf_ringbuf_reserve(&new_pids, sizeof(*event), 0);
  if (!event) {
    bpf_map_delete_elem(&seen, &pid);  // announce it at a later sample instead
    count_stat(SONDE_PROFILE_STAT_PID_EVENT_DROPS);
    return;
  }
  event->pid = pid;
  event->reason = SONDE_PROFILE_PID_FIRST_SAMPLE;
  bpf_ringbuf_submit(event, 0);
}

static __always_inline __s32 take_stack(void *ctx, void *stacks, __u64 flags) {
  long id = bpf_get_stackid(ctx, stacks, flags);
  if (id == -EEXIST) count_stat(SONDE_PROFILE_STAT_COLLISIONS);
  else if (id < 0) count_stat(SONDE_PROFILE_STAT_STACK_ERRORS);
  return (__s32)id;
}

/// Whether the sample interrupted user mode. The context starts with the uapi struct pt_regs
/// (bpf_user_pt_regs_t), whose layout is fixed: cs is its 18th 8-byte word, and the verifier only allows
/// whole-word reads of it.
static __always_inline bool in_user_mode(void *ctx) { return (((__u64 *)ctx)[17] & 3) == 3; }

/// Whether the current task has a user stack to take (kernel threads and the idle task have none).
static __always_inline bool has_user_stack(__u32 pid) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  return pid != 0 && !(BPF_CORE_READ(task, flags) & PF_KTHREAD);
}

static __always_inline int sample(void *ctx, void *stacks, void *counts, __u32 pid) {
  struct sonde_profile_key key = {};
  key.pid = pid;
  key.user_stack = SONDE_PROFILE_NO_STACK;
  key.kernel_stack = SONDE_PROFILE_NO_STACK;
  bpf_get_current_comm(key.comm, sizeof(key.comm));
  // A sample taken in user mode has no kernel stack (bpf_get_stackid would say -EFAULT): not an error.
  if (kernel_stacks && !in_user_mode(ctx)) key.kernel_stack = take_stack(ctx, stacks, 0);
  if (user_stacks && has_user_stack(pid)) key.user_stack = take_stack(ctx, stacks, BPF_F_USER_STACK);
  __u64 *count = bpf_map_lookup_elem(counts, &key);
  if (count) {
    __sync_fetch_and_add(count, 1);
    return 0;
  }
  __u64 one = 1;
  long err = bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST);
  if (err == -EEXIST) {
    // Another CPU inserted the key in between.
    count = bpf_map_lookup_elem(counts, &key);
    if (count) __sync_fetch_and_add(count, 1);
  } else if (err) {
    count_stat(SONDE_PROFILE_STAT_MAP_FULL);
  }
  return 0;
}

SEC("perf_event")
int sonde_profile_cpu(void *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 pid = id >> 32;
  if (filter_pids && !bpf_map_lookup_elem(&targets, &pid)) return 0;
  count_stat(SONDE_PROFILE_STAT_SAMPLES);
  announce(pid);
  __u32 zero = 0;
  __u32 *half = bpf_map_lookup_elem(&control, &zero);
  if (half && (*half & 1)) return sample(ctx, &stacks1, &counts1, pid);
  return sample(ctx, &stacks0, &counts0, pid);
}

/// The ringbuf transport: one record per sample, whole stacks, submitted without a wake-up (user space
/// reads on a timer), as the OpenTelemetry eBPF profiler does.
SEC("perf_event")
int sonde_profile_ringbuf(void *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 pid = id >> 32;
  if (filter_pids && !bpf_map_lookup_elem(&targets, &pid)) return 0;
  count_stat(SONDE_PROFILE_STAT_SAMPLES);
  announce(pid);
  struct sonde_profile_sample *s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
  if (!s) {
    count_stat(SONDE_PROFILE_STAT_RINGBUF_DROPS);
    return 0;
  }
  s->pid = pid;
  s->flags = 0;
  s->kernel_bytes = 0;
  s->user_bytes = 0;
  bpf_get_current_comm(s->comm, sizeof(s->comm));
  if (kernel_stacks && !in_user_mode(ctx)) {
    long n = bpf_get_stack(ctx, s->kernel, sizeof(s->kernel), 0);
    if (n > 0) s->kernel_bytes = n;
    else { s->flags |= SONDE_PROFILE_SAMPLE_STACK_LOST; count_stat(SONDE_PROFILE_STAT_STACK_ERRORS); }
  }
  if (user_stacks && has_user_stack(pid)) {
    long n = bpf_get_stack(ctx, s->user, sizeof(s->user), BPF_F_USER_STACK);
    if (n > 0) s->user_bytes = n;
    else { s->flags |= SONDE_PROFILE_SAMPLE_STACK_LOST; count_stat(SONDE_PROFILE_STAT_STACK_ERRORS); }
  }
  bpf_ringbuf_submit(s, BPF_RB_NO_WAKEUP);
  return 0;
}

/// A forked process of a targeted one is a target too (the command's children, -p's children).
SEC("raw_tp/sched_process_fork")
int sonde_profile_fork(__u64 *ctx) {
  if (!filter_pids) return 0;
  struct task_struct *parent = (struct task_struct *)ctx[0];
  struct task_struct *child = (struct task_struct *)ctx[1];
  __u32 parent_pid = BPF_CORE_READ(parent, tgid);
  __u32 child_pid = BPF_CORE_READ(child, tgid);
  if (parent_pid == child_pid || !bpf_map_lookup_elem(&targets, &parent_pid)) return 0;
  __u8 one = 1;
  bpf_map_update_elem(&targets, &child_pid, &one, BPF_ANY);
  return 0;
}

/// After exec the process has new mappings: announce it again at its next sample.
SEC("raw_tp/sched_process_exec")
int sonde_profile_exec(__u64 *ctx) {
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  bpf_map_delete_elem(&seen, &pid);
  return 0;
}

/// syscalls:sys_enter_mmap's record: the common header, the syscall number, then one u64 per argument.
struct mmap_enter {
  __u64 common;
  __s64 nr;
  __u64 addr, len, prot, flags, fd, off;
};

/// A new executable mapping (dlopen, a JIT) is read at the process's next sample.
SEC("tracepoint/syscalls/sys_enter_mmap")
int sonde_profile_mmap(struct mmap_enter *args) {
  if (!(args->prot & PROT_EXEC)) return SONDE_TP_KEEP_EVENT;
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  bpf_map_delete_elem(&seen, &pid);
  return SONDE_TP_KEEP_EVENT;
}
