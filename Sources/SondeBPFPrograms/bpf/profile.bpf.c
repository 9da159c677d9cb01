// The eBPF CPU profiler: a perf_event program on a per-CPU sampling event that aggregates in the kernel.
//
// Each sample becomes one key — (pid, user stack, kernel stack, comm) — whose count is bumped in a hash
// map; the stacks themselves live in a second hash map, keyed by the hash of their frames. User space drains
// on an interval with batch lookup-and-delete. The maps come in two halves: the program writes into the
// half `control[0]` names, and user space flips it before draining the other one, so a drain never races
// with samples landing in the maps it is reading and deleting (a stack is never deleted under a count
// that still refers to it).
//
// A process seen for the first time is announced through the `new_pids` ringbuf (one small record, with a
// wake-up), so user space reads its mappings while it still exists; an exec or an executable mmap forgets
// that it was seen, so the next sample announces it again.
#include "profile_common.h"
#include "unwind.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} control SEC(".maps");

/// Stacks by the 63-bit hash of their frames, one map per half (sized by user space), kernel and user
/// stacks alike: each is stored once however many keys name it. Not a BPF stack map: that one files a stack
/// in the bucket its hash picks modulo the map's size and loses it (-EEXIST) when another stack holds the
/// bucket; measured here, 1 run in 60 of a 6-stack `profile -p` lost its hottest stack that way.
#define STACKS_MAP(name)                                   \
  struct {                                                 \
    __uint(type, BPF_MAP_TYPE_HASH);                       \
    __uint(max_entries, 8192);                             \
    __type(key, __u64);                                    \
    __type(value, struct sonde_profile_stack);             \
  } name SEC(".maps")

#define COUNTS_MAP(name)                                   \
  struct {                                                 \
    __uint(type, BPF_MAP_TYPE_HASH);                       \
    __uint(max_entries, 16384);                            \
    __type(key, struct sonde_profile_key);                 \
    __type(value, __u64);                                  \
  } name SEC(".maps")

STACKS_MAP(stacks0);
STACKS_MAP(stacks1);

/// The frames bpf_get_stack writes before they are stored, per CPU: [0] user, [1] kernel. (The CFI walk
/// writes its user stack into unwind_frames.)
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct sonde_profile_stack);
} stack_scratch SEC(".maps");

/// 1: user stacks come from the CFI unwinder (set before load).
const volatile __u32 dwarf_unwind = 0;
COUNTS_MAP(counts0);
COUNTS_MAP(counts1);

/// The ringbuf transport's samples (sized by user space; one page when that transport is not used).
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} samples SEC(".maps");

/// Bytes waiting in `samples` above which a submit wakes user space (set before load: a quarter of the
/// buffer). Below it records are submitted silently, so a low rate costs no wake-ups at all and a high
/// rate costs one per quarter buffer, never a full buffer's drops.
const volatile __u64 samples_wakeup_bytes = 1024;

/// The hash of a frame array (its frames end at the first zero, as user space reads them), top bit clear.
/// The loop's bound is a constant, so every verifier accepts it without bpf_loop.
static __always_inline __u64 hash_frames(const struct sonde_profile_stack *stack) {
  __u64 hash = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < SONDE_PROFILE_MAX_DEPTH; i++) {
    __u64 ip = stack->ips[i];
    if (!ip) break;
    __u64 h = (hash ^ ip) * 0xff51afd7ed558ccdULL;
    hash = h ^ (h >> 29);
  }
  return hash & 0x7fffffffffffffffULL;
}

/// Stores `frames` (ended by a zero, or 127 of them) in `stacks` under their hash and returns the hash, or -E2BIG
/// (counted) when the map has no room for a stack it does not hold yet.
static __always_inline __s64 store_stack(void *stacks, const struct sonde_profile_stack *frames) {
  __u64 hash = hash_frames(frames);
  if (bpf_map_lookup_elem(stacks, &hash)) return hash;
  long err = bpf_map_update_elem(stacks, &hash, frames, BPF_NOEXIST);
  // -EEXIST: another CPU stored the same stack in between.
  if (err && err != -EEXIST) {
    count_stat(SONDE_PROFILE_STAT_STACK_MAP_FULL);
    return -E2BIG;
  }
  return hash;
}

/// Takes the sample's kernel stack (`flags` 0, scratch slot 1) or user stack (BPF_F_USER_STACK, slot 0)
/// with bpf_get_stack and stores it; returns its reference or a negative errno (counted).
static __always_inline __s64 take_stack(void *ctx, void *stacks, __u32 slot, __u64 flags) {
  struct sonde_profile_stack *frames = bpf_map_lookup_elem(&stack_scratch, &slot);
  if (!frames) return -EFAULT;
  // bpf_get_stack zeroes the buffer past the frames it writes.
  long bytes = bpf_get_stack(ctx, frames->ips, sizeof(frames->ips), flags);
  if (bytes <= 0) {
    count_stat(SONDE_PROFILE_STAT_STACK_ERRORS);
    return bytes < 0 ? bytes : -EFAULT;
  }
  return store_stack(stacks, frames);
}

/// Stores the `n` frames the CFI walk left in unwind_frames; returns the reference or a negative errno.
static __always_inline __s64 store_unwound_stack(void *stacks, int n) {
  __u32 zero = 0;
  struct sonde_profile_stack *frames = bpf_map_lookup_elem(&unwind_frames, &zero);
  if (!frames || n <= 0) {
    count_stat(SONDE_PROFILE_STAT_STACK_ERRORS);
    return -EFAULT;
  }
  return store_stack(stacks, frames);
}

/// Whether the sample interrupted user mode. The context starts with the uapi struct pt_regs
/// (bpf_user_pt_regs_t), whose layout is fixed: cs is its 18th 8-byte word, and the verifier only allows
/// whole-word reads of it.
static __always_inline bool in_user_mode(void *ctx) { return (((__u64 *)ctx)[17] & 3) == 3; }

/// Counts one sample under its key. With --unwind dwarf the user stack was walked already (`frames` of them
/// in unwind_frames, -1 when none was taken), once for both halves: the walk is the verifier's largest part.
static __always_inline int sample(void *ctx, void *stacks, void *counts, __u32 pid, int frames) {
  struct sonde_profile_key key = {};
  key.pid = pid;
  key.user_stack = SONDE_PROFILE_NO_STACK;
  key.kernel_stack = SONDE_PROFILE_NO_STACK;
  bpf_get_current_comm(key.comm, sizeof(key.comm));
  // A sample taken in user mode has no kernel stack (bpf_get_stack would say -EFAULT): not an error.
  if (kernel_stacks && !in_user_mode(ctx)) key.kernel_stack = take_stack(ctx, stacks, 1, 0);
  if (user_stacks && has_user_stack(pid)) {
    if (dwarf_unwind) key.user_stack = store_unwound_stack(stacks, frames);
    else key.user_stack = take_stack(ctx, stacks, 0, BPF_F_USER_STACK);
  }
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
  __u32 pid;
  if (!sampled_process(&pid)) return 0;
  int frames = -1;
  if (dwarf_unwind && user_stacks && has_user_stack(pid)) frames = unwind_into_frames(ctx, pid);
  __u32 zero = 0;
  __u32 *half = bpf_map_lookup_elem(&control, &zero);
  if (half && (*half & 1)) return sample(ctx, &stacks1, &counts1, pid, frames);
  return sample(ctx, &stacks0, &counts0, pid, frames);
}

/// The ringbuf transport: one record per sample, whole stacks, submitted without a wake-up until a quarter
/// of the buffer waits (user space otherwise reads at each drain). With `dwarf`, the user stack comes from
/// the CFI unwinder (unwind.h) rather than frame pointers.
static __always_inline int ringbuf_sample(void *ctx, bool dwarf) {
  __u32 pid;
  if (!sampled_process(&pid)) return 0;
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
    long n = dwarf ? unwind_user_stack(ctx, pid, s->user) : bpf_get_stack(ctx, s->user, sizeof(s->user), BPF_F_USER_STACK);
    if (n > 0) s->user_bytes = n;
    else { s->flags |= SONDE_PROFILE_SAMPLE_STACK_LOST; count_stat(SONDE_PROFILE_STAT_STACK_ERRORS); }
  }
  __u64 waiting = bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA);
  bpf_ringbuf_submit(s, waiting >= samples_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
  return 0;
}

SEC("perf_event")
int sonde_profile_ringbuf(void *ctx) { return ringbuf_sample(ctx, false); }

/// The ringbuf transport with user stacks unwound from call-frame information (--unwind dwarf).
SEC("perf_event")
int sonde_profile_ringbuf_dwarf(void *ctx) { return ringbuf_sample(ctx, true); }
