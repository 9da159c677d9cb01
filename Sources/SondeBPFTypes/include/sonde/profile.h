// Structs and constants shared by profile.bpf.c (the eBPF CPU profiler) and the Swift engine that drains it.
#ifndef SONDE_PROFILE_H
#define SONDE_PROFILE_H

#include <linux/types.h>

/// Frames kept per stack: the kernel's default kernel.perf_event_max_stack.
#define SONDE_PROFILE_MAX_DEPTH 127

/// A stack id that names no stack: the stack was not asked for (--user-only / --kernel-only).
#define SONDE_PROFILE_NO_STACK (-1)

/// One aggregation key of the `counts` maps: whose sample, with which stacks. A stack reference of 0 or more
/// names a stack: in the CPU profiler's maps, the 63-bit hash of its frames that keys the half's `stacks`
/// hash map; off-CPU, a bpf_get_stackid id in its stack map. A negative one names none:
/// SONDE_PROFILE_NO_STACK (not asked for) or the -errno taking the stack returned (-EFAULT: unreadable,
/// -E2BIG: the stack map was full, -EEXIST: an off-CPU stack-map bucket held a different stack).
struct sonde_profile_key {
  __u32 pid;          ///< thread group id (0: the idle task)
  __u32 reserved;     ///< zero: the padding before the stacks, made explicit so equal keys hash alike
  __s64 user_stack;   ///< the user stack's reference, or < 0
  __s64 kernel_stack; ///< the kernel stack's reference, or < 0
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
  SONDE_PROFILE_STAT_COLLISIONS = 1,       ///< off-CPU bpf_get_stackid -EEXIST: the bucket held another stack
  SONDE_PROFILE_STAT_STACK_ERRORS = 2,     ///< a stack could not be read (-EFAULT, …)
  SONDE_PROFILE_STAT_MAP_FULL = 3,         ///< the counts map had no room: the sample was dropped
  SONDE_PROFILE_STAT_PID_EVENT_DROPS = 4,  ///< no room in new_pids: a process was not announced
  SONDE_PROFILE_STAT_RINGBUF_DROPS = 5,    ///< no room in the samples ringbuf: the sample was dropped
  SONDE_PROFILE_STAT_SHORT_BLOCKS = 6,     ///< off-CPU: intervals shorter than --min-block, not kept
  SONDE_PROFILE_STAT_START_FULL = 7,       ///< off-CPU: no room to remember a switched-out thread
  // How the CFI unwinder's walks ended (--unwind dwarf), one per sample with a user stack:
  SONDE_PROFILE_STAT_UNWIND_END = 8,       ///< reached the outermost frame (_start, a thread's entry)
  SONDE_PROFILE_STAT_UNWIND_NO_TABLE = 9,  ///< no table covered a frame and frame pointers did not go on
  SONDE_PROFILE_STAT_UNWIND_BAD_READ = 10, ///< a rule pointed at user memory that could not be read
  SONDE_PROFILE_STAT_UNWIND_DEPTH = 11,    ///< SONDE_PROFILE_MAX_DEPTH frames: the stack goes deeper
  SONDE_PROFILE_STAT_UNWIND_BAD_RULE = 12, ///< an unsupported rule, or a CFA that did not move up the stack
  SONDE_PROFILE_STAT_STACK_MAP_FULL = 13,  ///< CPU profiler: a new stack found its half's `stacks` map full
  SONDE_PROFILE_STAT_SLOTS = 14,
};

/// How a CFI unwind row computes the canonical frame address (the caller's stack pointer).
enum sonde_unwind_cfa_kind {
  SONDE_UNWIND_CFA_RSP = 0,         ///< rsp + cfa_offset
  SONDE_UNWIND_CFA_RBP = 1,         ///< rbp + cfa_offset
  SONDE_UNWIND_CFA_PLT = 2,         ///< PLT entries: rsp + 8, + 8 more when (rip & 15) >= cfa_offset
  SONDE_UNWIND_CFA_END = 3,         ///< the outermost frame: the stack ends here
  SONDE_UNWIND_CFA_UNSUPPORTED = 4, ///< a rule the unwinder does not model: the walk stops
  SONDE_UNWIND_CFA_GAP = 5,         ///< no FDE covers these addresses: follow frame pointers
};

/// Where the caller's rbp is.
enum sonde_unwind_rbp_kind {
  SONDE_UNWIND_RBP_SAME = 0,      ///< unchanged
  SONDE_UNWIND_RBP_OFFSET = 1,    ///< saved at CFA + rbp_offset
  SONDE_UNWIND_RBP_UNDEFINED = 2, ///< not recoverable (an rbp-based CFA above it stops the walk)
};

/// One row of a binary's unwind table: from `address` (an ELF virtual address) to the next row's, the
/// rule that finds the caller. The return address is always at CFA - 8 (rows whose rule says otherwise
/// are SONDE_UNWIND_CFA_UNSUPPORTED). Rows of one binary are consecutive in `unwind_rows`, sorted.
struct sonde_unwind_row {
  __u64 address;
  __s32 cfa_offset;
  __s16 rbp_offset;
  __u8 cfa_kind;
  __u8 rbp_kind;
};

/// Executable mappings with unwind tables kept per process.
#define SONDE_UNWIND_MAPPINGS 32

/// Log2 of the bytes of address one entry of a binary's page index covers.
#define SONDE_UNWIND_PAGE_SHIFT 12

/// One executable mapping of a process: [start, end) maps ELF virtual addresses + bias, and its binary's
/// rows are unwind_rows[row_start, row_start + row_count). Its page index, unwind_pages[page_start,
/// page_start + page_count), holds for each 4 KiB page from page_base the row (relative to row_start) that
/// covers the page's first byte: a frame's search is then the rows of one page, a few steps rather than
/// log2 of the binary's rows. page_count 0: no index, every row is searched.
struct sonde_unwind_mapping {
  __u64 start;
  __u64 end;
  __u64 bias;
  __u32 row_start;
  __u32 row_count;
  __u64 page_base;
  __u32 page_start;
  __u32 page_count;
};

/// A process's mappings that have unwind tables (value of `unwind_processes`, keyed by pid).
struct sonde_unwind_process {
  __u32 count;
  __u32 reserved;
  struct sonde_unwind_mapping mappings[SONDE_UNWIND_MAPPINGS];
};

#endif
