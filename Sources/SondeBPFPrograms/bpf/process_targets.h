// The set of processes a run observes when it is limited to some (-p PIDS, a command and its descendants):
// the `targets` hash and the two hooks that keep it current, shared by the profiler's objects and the tracer.
// A command forked by Sonde waits in the set as "at exec" until it execs (as perf's enable_on_exec: the child
// waiting to be released is Sonde's time, not the command's); a target's forks become targets.
#ifndef SONDE_PROCESS_TARGETS_H
#define SONDE_PROCESS_TARGETS_H

#include "sonde_bpf.h"

/// Values of `targets`: observed, or observed once it execs.
#define SONDE_TARGET_ACTIVE 1
#define SONDE_TARGET_AT_EXEC 2

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u8);
} targets SEC(".maps");

/// Whether `pid` is an active target.
static __always_inline bool is_active_target(__u32 pid) {
  __u8 *state = bpf_map_lookup_elem(&targets, &pid);
  return state && *state == SONDE_TARGET_ACTIVE;
}

/// At sched_process_fork (raw_tp arguments: parent, child): a new process of an active target is a target.
static __always_inline void follow_fork(__u64 *ctx) {
  struct task_struct *parent = (struct task_struct *)ctx[0];
  struct task_struct *child = (struct task_struct *)ctx[1];
  __u32 parent_pid = BPF_CORE_READ(parent, tgid);
  __u32 child_pid = BPF_CORE_READ(child, tgid);
  if (parent_pid == child_pid || !is_active_target(parent_pid)) return;
  __u8 active = SONDE_TARGET_ACTIVE;
  bpf_map_update_elem(&targets, &child_pid, &active, BPF_ANY);
}

/// At sched_process_exec: a command waiting for its exec becomes an active target.
static __always_inline void activate_at_exec(__u32 pid) {
  __u8 *state = bpf_map_lookup_elem(&targets, &pid);
  if (state && *state == SONDE_TARGET_AT_EXEC) *state = SONDE_TARGET_ACTIVE;
}

#endif
