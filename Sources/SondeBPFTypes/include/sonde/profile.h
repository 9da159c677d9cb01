// Structs and constants shared by profile.bpf.c (the eBPF CPU profiler) and the Swift engine that drains it.
#ifndef SONDE_PROFILE_H
#define SONDE_PROFILE_H

#include <linux/types.h>

/// Frames kept per stack: the kernel's default kernel.perf_event_max_stack.
#define SONDE_PROFILE_MAX_DEPTH 127

/// A stack id that names no stack: the stack was not asked for (--user-only / --kernel-only).
#define SONDE_PROFILE_NO_STACK (-1)

/// One aggregation key of the `counts` maps: whose sample, with which stacks. The stack ids index the
/// stack map of the same half, or are negative: SONDE_PROFILE_NO_STACK, or the -errno bpf_get_stackid
/// returned (-EEXIST: a different stack held the bucket; -EFAULT: the stack could not be read).
struct sonde_profile_key {
  __u32 pid;          ///< thread group id (0: the idle task)
  __s32 user_stack;   ///< stack id in the half's stack map, or < 0
  __s32 kernel_stack; ///< stack id in the half's stack map, or < 0
  __u32 flags;        ///< reserved, 0
  char comm[16];      ///< the thread's name when sampled
};

/// One frame array of the stack maps.
struct sonde_profile_stack {
  __u64 ips[SONDE_PROFILE_MAX_DEPTH];
};

/// What an off-CPU key accumulates: blocked intervals and their summed length.
struct sonde_offcpu_value {
  __u64 nanoseconds;
  __u64 count;
};

/// One sample of the `ringbuf` transport: no aggregation in the kernel, the whole stacks travel.
struct sonde_profile_sample {
  __u32 pid;
  __u32 kernel_bytes; ///< bytes of `kernel` filled (bpf_get_stack's result), 0 when not taken or failed
  __u32 user_bytes;   ///< bytes of `user` filled
  __u32 flags;        ///< SONDE_PROFILE_SAMPLE_* bits
  char comm[16];
  __u64 kernel[SONDE_PROFILE_MAX_DEPTH];
  __u64 user[SONDE_PROFILE_MAX_DEPTH];
};

/// A stack of the sample could not be read (bpf_get_stack failed): it is counted, the sample kept.
#define SONDE_PROFILE_SAMPLE_STACK_LOST 1

/// A process the program saw for the first time (or again, after exec or an executable mmap), sent
/// through the `new_pids` ringbuf so user space reads its mappings while it is alive.
struct sonde_profile_pid_event {
  __u32 pid;
  __u32 reason; ///< enum sonde_profile_pid_reason
};

enum sonde_profile_pid_reason {
  SONDE_PROFILE_PID_FIRST_SAMPLE = 0,
};

/// Slots of the per-CPU `profile_stats` array: what happened, counted where it happened.
enum sonde_profile_stat_slot {
  SONDE_PROFILE_STAT_SAMPLES = 0,          ///< samples of a targeted task (off-CPU: blocked intervals kept)
  SONDE_PROFILE_STAT_COLLISIONS = 1,       ///< bpf_get_stackid -EEXIST: the bucket held another stack
  SONDE_PROFILE_STAT_STACK_ERRORS = 2,     ///< bpf_get_stackid failed otherwise (-EFAULT, …)
  SONDE_PROFILE_STAT_MAP_FULL = 3,         ///< the counts map had no room: the sample was dropped
  SONDE_PROFILE_STAT_PID_EVENT_DROPS = 4,  ///< no room in new_pids: a process was not announced
  SONDE_PROFILE_STAT_RINGBUF_DROPS = 5,    ///< no room in the samples ringbuf: the sample was dropped
  SONDE_PROFILE_STAT_SHORT_BLOCKS = 6,     ///< off-CPU: intervals shorter than --min-block, not kept
  SONDE_PROFILE_STAT_START_FULL = 7,       ///< off-CPU: no room to remember a switched-out thread
  SONDE_PROFILE_STAT_SLOTS = 8,
};

#endif
