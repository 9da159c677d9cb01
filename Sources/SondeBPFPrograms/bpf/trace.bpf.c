// The generic tracer behind `sonde trace`: one set of programs, configured before load through read-only
// constants and map sizes, never generated per run. Each probe kind has its program (tracepoint, raw_tp,
// uprobe/uretprobe, kprobe/kretprobe, fentry/fexit); all of them fetch the probe's argument or return
// value in their own way and share one body, which filters in the kernel (pid, comm, cgroup) and then
// counts by key, pairs entries with exits into a latency histogram, or sends the hit through a ringbuf.
//
// Which probe fired is the link's BPF cookie (its index into the per-probe constants). raw_tp and
// fentry/fexit links cannot carry one on the kernels and libbpf Sonde supports, so those kinds have
// SONDE_TRACE_FIXED_PROGRAMS programs each, every one bound to its probe index at compile time.
#include "sonde_bpf.h"
#include "process_targets.h"

#include <bpf/usdt.bpf.h>
#include <sonde/trace.h>

/// enum sonde_trace_mode bits.
const volatile __u32 mode = SONDE_TRACE_COUNT;
/// enum sonde_trace_by: the count key (count mode) and the histogram groups (latency mode: probe, comm,
/// pid or nothing).
const volatile __u32 count_by = SONDE_TRACE_BY_PROBE;
const volatile __u32 latency_by = SONDE_TRACE_BY_NOTHING;
/// Which argument --by argN reads (0-based).
const volatile __u32 arg_index = 0;
/// Filters: only the processes in `targets` (1), a comm (empty: any), a cgroup v2 id (0: any).
const volatile __u32 filter_targets = 0;
const volatile char filter_comm[16] = {};
const volatile __u64 filter_cgroup = 0;
/// Histogram: log2 of nanoseconds divided by `unit`, or linear buckets of `step` from `low` to `high`.
const volatile __u32 linear = 0;
const volatile __u64 unit = 1;
const volatile __u64 low = 0;
const volatile __u64 high = 0;
const volatile __u64 step = 1;
/// Per probe: its latency role, the tracepoint field argN reads, the tracepoint field retval reads, the
/// record bytes an event copies (with room for `__data_loc` data after the fixed part, and the fixed part
/// alone when that read fails at the end of a page), and the tracepoint field holding a user string
/// pointer to read (size 0: none).
const volatile __u8 probe_role[SONDE_TRACE_MAX_PROBES] = {};
const volatile struct sonde_trace_field arg_field[SONDE_TRACE_MAX_PROBES] = {};
const volatile struct sonde_trace_field ret_field[SONDE_TRACE_MAX_PROBES] = {};
const volatile __u16 record_bytes[SONDE_TRACE_MAX_PROBES] = {};
const volatile __u16 record_fixed_bytes[SONDE_TRACE_MAX_PROBES] = {};
const volatile struct sonde_trace_field string_field[SONDE_TRACE_MAX_PROBES] = {};
/// Latency mode: per probe, up to two tracepoint fields whose values pair an entry with its exit in place of
/// the current thread (runqlat: the woken pid with the switched-in pid; biolatency: a request's device and
/// sector). Size 0: the current thread.
const volatile struct sonde_trace_field pair_field0[SONDE_TRACE_MAX_PROBES] = {};
const volatile struct sonde_trace_field pair_field1[SONDE_TRACE_MAX_PROBES] = {};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SONDE_TRACE_STAT_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} trace_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, struct sonde_trace_key);
  __type(value, __u64);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sonde_trace_stack);
} stacks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, __u64);
  __type(value, struct sonde_trace_start);
} starts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct sonde_trace_hist_key);
  __type(value, __u64);
} histogram SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct sonde_trace_hist_key);
  __type(value, struct sonde_trace_sum);
} sums SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

/// --by stack: processes already announced through new_pids, so user space reads their mappings while they
/// live (a process that exits before the end of the run would otherwise show unknown frames).
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u8);
} seen SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} new_pids SEC(".maps");

static __always_inline void count_stat(__u32 slot) {
  __u64 *value = bpf_map_lookup_elem(&trace_stats, &slot);
  if (value) *value += 1;
}

/// Adds `by` to the counter at `key` of `map`, creating it; a full map is counted, never silent.
static __always_inline void add(void *map, void *key, __u64 by) {
  __u64 *value = bpf_map_lookup_elem(map, key);
  if (value) {
    __sync_fetch_and_add(value, by);
    return;
  }
  if (bpf_map_update_elem(map, key, &by, BPF_NOEXIST) == 0) return;
  value = bpf_map_lookup_elem(map, key);  // another CPU created it meanwhile
  if (value) __sync_fetch_and_add(value, by);
  else count_stat(SONDE_TRACE_STAT_MAP_FULL);
}

/// Sends `pid` through new_pids the first time it is seen (a full ringbuf: it is tried again next hit).
static __always_inline void announce(__u32 pid) {
  __u8 one = 1;
  if (bpf_map_update_elem(&seen, &pid, &one, BPF_NOEXIST) != 0) return;
  __u32 *event = bpf_ringbuf_reserve(&new_pids, sizeof(*event), 0);
  if (!event) {
    bpf_map_delete_elem(&seen, &pid);
    return;
  }
  *event = pid;
  bpf_ringbuf_submit(event, 0);
}

static __always_inline bool passes_filters(__u32 tgid) {
  if (filter_targets && !is_active_target(tgid)) return false;
  if (filter_comm[0]) {
    char comm[16];
    bpf_get_current_comm(comm, sizeof(comm));
    for (int i = 0; i < 16; i++) {
      if (comm[i] != filter_comm[i]) return false;
      if (!comm[i]) break;
    }
  }
  if (filter_cgroup && bpf_get_current_cgroup_id() != filter_cgroup) return false;
  return true;
}

/// A tracepoint record's field, sign-extended when it is signed.
static __always_inline __u64 read_field(void *record, struct sonde_trace_field f) {
  __u64 value = 0;
  switch (f.size) {
  case 1: {
    __u8 v = 0;
    bpf_probe_read_kernel(&v, 1, record + f.offset);
    value = f.is_signed ? (__u64)(__s64)(__s8)v : v;
    break;
  }
  case 2: {
    __u16 v = 0;
    bpf_probe_read_kernel(&v, 2, record + f.offset);
    value = f.is_signed ? (__u64)(__s64)(__s16)v : v;
    break;
  }
  case 4: {
    __u32 v = 0;
    bpf_probe_read_kernel(&v, 4, record + f.offset);
    value = f.is_signed ? (__u64)(__s64)(__s32)v : v;
    break;
  }
  case 8:
    bpf_probe_read_kernel(&value, 8, record + f.offset);
    break;
  }
  return value;
}

/// log2 bucket of `value`, as bpftrace's hist(): 0 holds 0, k holds [2^(k-1), 2^k).
static __always_inline __u32 log2_slot(__u64 value) {
  __u32 slot = 0;
  for (int i = 0; i < 64 && value; i++) {
    value >>= 1;
    slot++;
  }
  return slot;
}

static __always_inline __u32 hist_slot(__u64 nanoseconds) {
  __u64 value = nanoseconds / unit;
  if (!linear) return log2_slot(value);
  // Slot 0 holds values below `low`, the last slot values at or above `high`.
  if (value < low) return 0;
  if (value >= high) return (__u32)((high - low) / step) + 1;
  __u64 slot = (value - low) / step + 1;
  return slot < SONDE_TRACE_HIST_SLOTS ? (__u32)slot : SONDE_TRACE_HIST_SLOTS - 1;
}

static __always_inline void count_hit(void *ctx, __u32 probe, __u64 pid_tgid, __u64 arg, __u64 ret) {
  struct sonde_trace_key key = {.probe = probe};
  switch (count_by) {
  case SONDE_TRACE_BY_COMM:
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    break;
  case SONDE_TRACE_BY_PID:
    key.pid = pid_tgid >> 32;
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    break;
  case SONDE_TRACE_BY_TID:
    key.pid = (__u32)pid_tgid;
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    break;
  case SONDE_TRACE_BY_USTACK:
  case SONDE_TRACE_BY_KSTACK: {
    __u64 flags = count_by == SONDE_TRACE_BY_USTACK ? BPF_F_USER_STACK : 0;
    key.stack = bpf_get_stackid(ctx, &stacks, flags);
    if (key.stack < 0) count_stat(SONDE_TRACE_STAT_STACK_LOST);
    key.pid = pid_tgid >> 32;
    if (count_by == SONDE_TRACE_BY_USTACK) announce(key.pid);
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    break;
  }
  case SONDE_TRACE_BY_ARG:
    key.value = arg;
    break;
  case SONDE_TRACE_BY_RETVAL:
    key.value = ret;
    break;
  }
  add(&counts, &key, 1);
}

/// What pairs this probe's entry with its exit: the current thread, or the probe's pair fields of the record.
static __always_inline __u64 pair_key(__u32 probe, void *record, __u64 pid_tgid) {
  struct sonde_trace_field a = pair_field0[probe];
  if (!record || a.size == 0) return (__u32)pid_tgid;
  __u64 key = read_field(record, a);
  struct sonde_trace_field b = pair_field1[probe];
  if (b.size) key = (key * 0x9E3779B97F4A7C15ULL) ^ read_field(record, b);
  return key;
}

static __always_inline void latency_hit(__u32 probe, void *record, __u64 pid_tgid) {
  __u64 pair = pair_key(probe, record, pid_tgid);
  if (probe_role[probe] == SONDE_TRACE_ENTRY) {
    struct sonde_trace_start start = {.timestamp = bpf_ktime_get_ns(), .probe = probe};
    if (bpf_map_update_elem(&starts, &pair, &start, BPF_ANY) != 0) count_stat(SONDE_TRACE_STAT_STARTS_FULL);
    return;
  }
  struct sonde_trace_start *start = bpf_map_lookup_elem(&starts, &pair);
  if (!start) {
    count_stat(SONDE_TRACE_STAT_NO_ENTRY);
    return;
  }
  __u64 now = bpf_ktime_get_ns();
  __u64 elapsed = now > start->timestamp ? now - start->timestamp : 0;
  __u32 entry = start->probe;
  bpf_map_delete_elem(&starts, &pair);
  struct sonde_trace_hist_key key = {.slot = hist_slot(elapsed)};
  if (latency_by == SONDE_TRACE_BY_PROBE) key.probe = entry;
  if (latency_by == SONDE_TRACE_BY_COMM) bpf_get_current_comm(key.comm, sizeof(key.comm));
  if (latency_by == SONDE_TRACE_BY_PID) {
    key.pid = pid_tgid >> 32;
    bpf_get_current_comm(key.comm, sizeof(key.comm));
  }
  add(&histogram, &key, 1);
  key.slot = 0;
  struct sonde_trace_sum *sum = bpf_map_lookup_elem(&sums, &key);
  if (!sum) {
    struct sonde_trace_sum zero = {};
    bpf_map_update_elem(&sums, &key, &zero, BPF_NOEXIST);
    sum = bpf_map_lookup_elem(&sums, &key);
  }
  if (!sum) {
    count_stat(SONDE_TRACE_STAT_MAP_FULL);
    return;
  }
  __sync_fetch_and_add(&sum->count, 1);
  __sync_fetch_and_add(&sum->nanoseconds, elapsed);
}

/// `record`: a tracepoint's record (copied whole), else the argument registers; `args`: up to 6 arguments.
static __always_inline void event_hit(__u32 probe, __u64 pid_tgid, void *record, __u64 *args, __u64 ret) {
  struct sonde_trace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_stat(SONDE_TRACE_STAT_RINGBUF_FULL);
    return;
  }
  e->timestamp = bpf_ktime_get_ns();
  e->cpu = bpf_get_smp_processor_id();
  e->pid = pid_tgid >> 32;
  e->tid = (__u32)pid_tgid;
  e->probe = probe;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  e->string_bytes = 0;
  e->record_bytes = 0;
  if (record) {
    __u32 size = record_bytes[probe];
    if (size > SONDE_TRACE_RECORD_BYTES) size = SONDE_TRACE_RECORD_BYTES;
    __u32 fixed = record_fixed_bytes[probe];
    if (fixed > SONDE_TRACE_RECORD_BYTES) fixed = SONDE_TRACE_RECORD_BYTES;
    if (size && bpf_probe_read_kernel(e->record, size, record) == 0) e->record_bytes = size;
    else if (fixed && bpf_probe_read_kernel(e->record, fixed, record) == 0) e->record_bytes = fixed;
    struct sonde_trace_field s = string_field[probe];
    if (s.size == 8) {
      const char *pointer = (const char *)read_field(record, s);
      e->string_bytes = bpf_probe_read_user_str(e->string, sizeof(e->string), pointer);
    }
  } else {
    // Six arguments then the return value, as 64-bit words.
    __u64 *words = (__u64 *)e->record;
    for (int i = 0; i < 6; i++) words[i] = args[i];
    words[6] = ret;
    e->record_bytes = 7 * sizeof(__u64);
  }
  bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/// What every program does on a hit. `args` holds the probe's arguments (six words; zeros where the kind
/// has none), `record` a tracepoint's record (NULL for the other kinds).
static __always_inline void hit(void *ctx, __u32 probe, void *record, __u64 *args, __u64 ret) {
  if (probe >= SONDE_TRACE_MAX_PROBES) return;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!passes_filters(pid_tgid >> 32)) return;
  count_stat(SONDE_TRACE_STAT_HITS);
  // Counting and timing together (syscount) counts the entries only.
  if ((mode & SONDE_TRACE_COUNT) && probe_role[probe] == SONDE_TRACE_ENTRY) {
    __u32 index = arg_index < 6 ? arg_index : 0;
    __u64 arg = args[index & 7];
    __u64 value = ret;
    if (record) {
      arg = read_field(record, arg_field[probe]);
      value = read_field(record, ret_field[probe]);
    }
    count_hit(ctx, probe, pid_tgid, arg, value);
  }
  if (mode & SONDE_TRACE_LATENCY) latency_hit(probe, record, pid_tgid);
  if (mode & SONDE_TRACE_EVENTS) event_hit(probe, pid_tgid, record, args, ret);
}

SEC("tracepoint")
int sonde_trace_tp(void *ctx) {
  __u64 args[8] = {};
  hit(ctx, (__u32)bpf_get_attach_cookie(ctx), ctx, args, 0);
  return SONDE_TP_KEEP_EVENT;
}

static __always_inline void regs_args(struct pt_regs *regs, __u64 *args) {
  args[0] = PT_REGS_PARM1_CORE(regs);
  args[1] = PT_REGS_PARM2_CORE(regs);
  args[2] = PT_REGS_PARM3_CORE(regs);
  args[3] = PT_REGS_PARM4_CORE(regs);
  args[4] = PT_REGS_PARM5_CORE(regs);
  args[5] = BPF_CORE_READ(regs, r9); // the sixth argument register (x86-64); bpf_tracing.h of libbpf 1.1 has no PARM6
}

SEC("uprobe")
int sonde_trace_uprobe(struct pt_regs *ctx) {
  __u64 args[8] = {};
  regs_args(ctx, args);
  hit(ctx, (__u32)bpf_get_attach_cookie(ctx), 0, args, 0);
  return 0;
}

SEC("uretprobe")
int sonde_trace_uretprobe(struct pt_regs *ctx) {
  __u64 args[8] = {};
  hit(ctx, (__u32)bpf_get_attach_cookie(ctx), 0, args, PT_REGS_RC_CORE(ctx));
  return 0;
}

SEC("kprobe")
int sonde_trace_kprobe(struct pt_regs *ctx) {
  __u64 args[8] = {};
  regs_args(ctx, args);
  hit(ctx, (__u32)bpf_get_attach_cookie(ctx), 0, args, 0);
  return 0;
}

SEC("kretprobe")
int sonde_trace_kretprobe(struct pt_regs *ctx) {
  __u64 args[8] = {};
  hit(ctx, (__u32)bpf_get_attach_cookie(ctx), 0, args, PT_REGS_RC_CORE(ctx));
  return 0;
}

SEC("usdt")
int sonde_trace_usdt(struct pt_regs *ctx) {
  __u64 args[8] = {};
  for (int i = 0; i < 6; i++) {
    long value = 0;
    if (bpf_usdt_arg(ctx, i, &value) == 0) args[i] = value;
  }
  hit(ctx, (__u32)bpf_usdt_cookie(ctx), 0, args, 0);
  return 0;
}

/// With filter_targets: a target's forks become targets, a command becomes one at its exec.
SEC("raw_tp/sched_process_fork")
int sonde_trace_fork(__u64 *ctx) {
  follow_fork(ctx);
  return 0;
}

SEC("raw_tp/sched_process_exec")
int sonde_trace_exec(__u64 *ctx) {
  activate_at_exec(bpf_get_current_pid_tgid() >> 32);
  return 0;
}

// raw_tp: the tracepoint's arguments as words; fentry/fexit: the function's (fexit's return value with
// bpf_get_func_ret). Each program is bound to one probe index.
#define SONDE_FIXED_PROGRAMS(n)                                                   \
  SEC("raw_tp")                                                                   \
  int sonde_trace_raw##n(__u64 *ctx) {                                            \
    __u64 args[8] = {};                                                           \
    for (int i = 0; i < 6; i++) bpf_probe_read_kernel(&args[i], 8, &ctx[i]);      \
    hit(ctx, n, 0, args, 0);                                                      \
    return 0;                                                                     \
  }                                                                               \
  SEC("fentry")                                                                   \
  int sonde_trace_fentry##n(__u64 *ctx) {                                         \
    __u64 args[8] = {};                                                           \
    __u64 count = bpf_get_func_arg_cnt(ctx);                                      \
    for (int i = 0; i < 6; i++)                                                   \
      if (i < count) bpf_get_func_arg(ctx, i, &args[i]);                          \
    hit(ctx, n, 0, args, 0);                                                      \
    return 0;                                                                     \
  }                                                                               \
  SEC("fexit")                                                                    \
  int sonde_trace_fexit##n(__u64 *ctx) {                                          \
    __u64 args[8] = {};                                                           \
    __u64 ret = 0;                                                                \
    __u64 count = bpf_get_func_arg_cnt(ctx);                                      \
    for (int i = 0; i < 6; i++)                                                   \
      if (i < count) bpf_get_func_arg(ctx, i, &args[i]);                          \
    bpf_get_func_ret(ctx, &ret);                                                  \
    hit(ctx, n, 0, args, ret);                                                    \
    return 0;                                                                     \
  }

SONDE_FIXED_PROGRAMS(0)
SONDE_FIXED_PROGRAMS(1)
SONDE_FIXED_PROGRAMS(2)
SONDE_FIXED_PROGRAMS(3)
SONDE_FIXED_PROGRAMS(4)
SONDE_FIXED_PROGRAMS(5)
SONDE_FIXED_PROGRAMS(6)
SONDE_FIXED_PROGRAMS(7)
