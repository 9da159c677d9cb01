// What the profiler's BPF objects (profile.bpf.c, offcpu.bpf.c) share: which tasks they sample, the per-CPU
// accounting array, and the announcement of processes to user space (at their first event, again after an
// exec or an executable mmap) so it reads their mappings while they are alive. Included by each object, so
// each has its own copy of these maps and programs.
#ifndef SONDE_PROFILE_COMMON_H
#define SONDE_PROFILE_COMMON_H

#include "sonde_bpf.h"
#include "process_targets.h"

#include <sonde/profile.h>

#define EFAULT 14
#define EEXIST 17
#define E2BIG 7
#define PF_KTHREAD 0x00200000
#define PROT_EXEC 0x4

/// 1: sample only the processes in `targets` (set before load).
const volatile __u32 filter_pids = 0;
/// Which stacks to take (set before load): --user-only clears kernel_stacks, --kernel-only user_stacks.
const volatile __u32 user_stacks = 1;
const volatile __u32 kernel_stacks = 1;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SONDE_PROFILE_STAT_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} profile_stats SEC(".maps");

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

/// Whether `pid` is sampled: every process, or an active target.
static __always_inline bool is_target(__u32 pid) {
  return !filter_pids || is_active_target(pid);
}

static __always_inline void count_stat(__u32 slot);
static __always_inline void announce(__u32 pid);

/// The start of every sampling program: whether the current process is sampled (then counted, and
/// announced when new), and its pid.
static __always_inline bool sampled_process(__u32 *pid) {
  *pid = bpf_get_current_pid_tgid() >> 32;
  if (!is_target(*pid)) return false;
  count_stat(SONDE_PROFILE_STAT_SAMPLES);
  announce(*pid);
  return true;
}

static __always_inline void count_stat(__u32 slot) {
  __u64 *value = bpf_map_lookup_elem(&profile_stats, &slot);
  if (value) *value += 1;
}

/// Announces `pid` unless it was already. Every sample calls this, so the common case is a lock-free
/// lookup; only a process not seen yet pays for an LRU insertion (which takes locks even when it fails).
static __always_inline void announce(__u32 pid) {
  if (pid == 0 || bpf_map_lookup_elem(&seen, &pid)) return;
  __u8 one = 1;
  if (bpf_map_update_elem(&seen, &pid, &one, BPF_NOEXIST) != 0) return;
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

/// Whether the current task has a user stack to take (kernel threads and the idle task have none).
static __always_inline bool has_user_stack(__u32 pid) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  return pid != 0 && !(BPF_CORE_READ(task, flags) & PF_KTHREAD);
}

/// A forked process of a targeted one is a target too (the command's children, -p's children).
SEC("raw_tp/sched_process_fork")
int sonde_profile_fork(__u64 *ctx) {
  if (filter_pids) follow_fork(ctx);
  return 0;
}

/// After exec the process has new mappings: announce it again at its next sample. A command waiting for
/// its exec becomes an active target.
SEC("raw_tp/sched_process_exec")
int sonde_profile_exec(__u64 *ctx) {
  __u32 pid = bpf_get_current_pid_tgid() >> 32;
  bpf_map_delete_elem(&seen, &pid);
  activate_at_exec(pid);
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

#endif
