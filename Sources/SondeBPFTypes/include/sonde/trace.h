// Structs and constants shared by trace.bpf.c (the generic tracer behind `sonde trace`) and the Swift engine
// that configures and drains it.
#ifndef SONDE_TRACE_H
#define SONDE_TRACE_H

#include <linux/types.h>

/// Probes one run attaches at most; a probe's index travels as the link's BPF cookie.
#define SONDE_TRACE_MAX_PROBES 1024
/// Programs of the kinds whose links cannot carry a cookie here (raw_tp, fentry/fexit): one per probe.
#define SONDE_TRACE_FIXED_PROGRAMS 8
/// Frames kept per stack (--by stack/kstack).
#define SONDE_TRACE_MAX_DEPTH 127
/// Bytes of a tracepoint's record copied into an event.
#define SONDE_TRACE_RECORD_BYTES 512
/// Bytes of a user-space string (a syscall's path argument) read into an event.
#define SONDE_TRACE_STRING_BYTES 256
/// Buckets of a histogram: log2 slots 0…64 (slot 0 holds 0, slot k holds [2^(k-1), 2^k)), or linear buckets (with one below and one above the range).
#define SONDE_TRACE_HIST_SLOTS 1024

/// What the program does on a hit (the `mode` constant, a set of these bits).
enum sonde_trace_mode {
  SONDE_TRACE_COUNT = 1,   ///< count hits of entry-role probes by key
  SONDE_TRACE_LATENCY = 2, ///< pair entry and exit per thread, histogram the durations
  SONDE_TRACE_EVENTS = 4,  ///< send each hit through the ringbuf
};

/// What a count key holds besides the probe (the `count_by` constant).
enum sonde_trace_by {
  SONDE_TRACE_BY_PROBE = 0,
  SONDE_TRACE_BY_COMM = 1,
  SONDE_TRACE_BY_PID = 2,
  SONDE_TRACE_BY_TID = 3,
  SONDE_TRACE_BY_USTACK = 4,
  SONDE_TRACE_BY_KSTACK = 5,
  SONDE_TRACE_BY_ARG = 6,
  SONDE_TRACE_BY_RETVAL = 7,
  SONDE_TRACE_BY_NOTHING = 8, ///< latency: one histogram for every probe and process
};

/// A probe's role in latency mode (the `probe_role` constants).
enum sonde_trace_role {
  SONDE_TRACE_ENTRY = 0,
  SONDE_TRACE_EXIT = 1,
};

/// How a tracepoint field is read (the `field_size` constants): its size in bytes, signed or not.
struct sonde_trace_field {
  __u16 offset;
  __u8 size;      ///< 1, 2, 4 or 8; 0: no field (argN/retval of a tracepoint without it)
  __u8 is_signed;
};

/// One count: which probe, whose, and the value counted by.
struct sonde_trace_key {
  __u32 probe;
  __u32 pid;   ///< tgid (--by pid/comm), tid (--by tid), else 0
  __u64 value; ///< argN or retval (--by argN/retval), else 0
  __s32 stack; ///< stack id (--by stack/kstack), or -errno of bpf_get_stackid, else 0
  __u32 pad;
  char comm[16]; ///< --by comm (and pid/tid, for the name), else zeros
};

/// One frame array of the `stacks` map (leaf first, zero-terminated when shorter).
struct sonde_trace_stack {
  __u64 ips[SONDE_TRACE_MAX_DEPTH];
};

/// One histogram bucket: latency mode counts durations by (group, slot).
struct sonde_trace_hist_key {
  __u32 probe;   ///< --by probe: the entry probe, else 0
  __u32 pid;     ///< --by pid, else 0
  __u32 slot;
  __u32 pad;
  char comm[16]; ///< --by comm, else zeros
};

/// The count and summed nanoseconds of a latency group (for the mean).
struct sonde_trace_sum {
  __u64 count;
  __u64 nanoseconds;
};

/// A thread's pending entry.
struct sonde_trace_start {
  __u64 timestamp;
  __u32 probe;
  __u32 pad;
};

/// One hit of events mode, through the ringbuf.
struct sonde_trace_event {
  __u64 timestamp; ///< CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns)
  __u32 cpu;
  __u32 pid;
  __u32 tid;
  __u32 probe;
  char comm[16];
  __u32 record_bytes; ///< bytes of `record` filled (a tracepoint's record; argument registers otherwise)
  __s32 string_bytes; ///< bpf_probe_read_user_str's result for `string` (<= 0: none)
  __u8 record[SONDE_TRACE_RECORD_BYTES];
  char string[SONDE_TRACE_STRING_BYTES];
};

/// Slots of the per-CPU `trace_stats` array.
enum sonde_trace_stat {
  SONDE_TRACE_STAT_HITS = 0,          ///< hits that passed the filters
  SONDE_TRACE_STAT_MAP_FULL = 1,      ///< counts or histogram entries that found their map full
  SONDE_TRACE_STAT_RINGBUF_FULL = 2,  ///< events dropped: ringbuf reserve failed
  SONDE_TRACE_STAT_STACK_LOST = 3,    ///< stacks bpf_get_stackid could not store (-EEXIST, -EFAULT…)
  SONDE_TRACE_STAT_NO_ENTRY = 4,      ///< exits without a recorded entry (started before tracing began)
  SONDE_TRACE_STAT_STARTS_FULL = 5,   ///< entries not recorded: too many threads inside at once
  SONDE_TRACE_STAT_SLOTS = 6,
};

#endif
