// The CFI unwinder of the eBPF profiler (--unwind dwarf): walks a user stack in the kernel with unwind rows
// that user space compiled from each binary's .eh_frame (Symbols' UnwindTable), so code built without frame
// pointers (Swift -O, Debian's libc) shows its callers.
//
// Tables live in one array of rows, each binary's rows consecutive and sorted, loaded once per binary and
// shared by every process that maps it; `unwind_processes` maps a pid to its executable mappings (address
// range, load bias, row range, page index). Each frame: find the mapping holding the address, binary-search
// the rows of its 4 KiB page (the binary's page index says which; at most 24 steps without one), compute
// the CFA, read the return address at CFA - 8 and, where the row says so, the caller's rbp. Where no row
// covers an address the walk follows frame pointers. bpf_loop bounds the walk at SONDE_PROFILE_MAX_DEPTH
// frames (Linux 5.17 and later); how each walk ended is counted.
#ifndef SONDE_UNWIND_H
#define SONDE_UNWIND_H

#include "profile_common.h"

/// Rows of every loaded binary (sized by user space before load; one entry when unwinding is off).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sonde_unwind_row);
} unwind_rows SEC(".maps");

/// Every loaded binary's page index (see sonde_unwind_mapping; sized by user space, one entry when unwinding
/// is off).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} unwind_pages SEC(".maps");

/// Each process's mappings with tables, by pid. LRU: on a busy host the least recently used entries (most
/// likely exited processes) make room, rather than a new process finding the map full.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sonde_unwind_process);
} unwind_processes SEC(".maps");

/// The frames of the walk in progress, per CPU (a perf_event program does not nest on one CPU).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sonde_profile_stack);
} unwind_frames SEC(".maps");

struct unwind_state {
  __u64 ip, sp, bp;
  /// The process's mappings, looked up once per walk (NULL: none loaded, frame pointers only).
  struct sonde_unwind_process *process;
  __u32 frames;
  __u32 stop; ///< the SONDE_PROFILE_STAT_UNWIND_* slot that ended the walk, 0 while it goes on
  __u32 bp_known;
};

/// The row of `pc` in `mapping`'s table, or NULL when none covers it.
static __always_inline struct sonde_unwind_row *find_row(struct sonde_unwind_mapping *mapping, __u64 pc) {
  __u64 address = pc - mapping->bias;
  __u32 lo = mapping->row_start;
  __u32 hi = mapping->row_start + mapping->row_count; // exclusive
  if (mapping->row_count == 0) return NULL;
  // The page index narrows the search to the rows of the page holding the address: from the row covering
  // its first byte to the one covering the next page's first byte.
  if (mapping->page_count && address >= mapping->page_base) {
    __u64 page = (address - mapping->page_base) >> SONDE_UNWIND_PAGE_SHIFT;
    if (page < mapping->page_count) {
      __u32 key = mapping->page_start + (__u32)page;
      __u32 *entry = bpf_map_lookup_elem(&unwind_pages, &key);
      __u32 first = entry ? *entry : 0;
      if (first < mapping->row_count) lo = mapping->row_start + first;
      key += 1;
      entry = page + 1 < mapping->page_count ? bpf_map_lookup_elem(&unwind_pages, &key) : NULL;
      __u32 last = entry ? *entry : mapping->row_count;
      if (last < mapping->row_count && last >= first) hi = mapping->row_start + last + 1;
    }
  }
  for (int step = 0; step < 24; step++) {
    if (lo + 1 >= hi) break;
    __u32 mid = lo + (hi - lo) / 2;
    struct sonde_unwind_row *row = bpf_map_lookup_elem(&unwind_rows, &mid);
    if (!row) return NULL;
    if (row->address <= address) lo = mid;
    else hi = mid;
  }
  struct sonde_unwind_row *row = bpf_map_lookup_elem(&unwind_rows, &lo);
  if (!row || row->address > address) return NULL;
  return row;
}

/// The mapping of process `process` holding `pc`, or NULL.
static __always_inline struct sonde_unwind_mapping *find_mapping(struct sonde_unwind_process *process, __u64 pc) {
  for (int i = 0; i < SONDE_UNWIND_MAPPINGS; i++) {
    if (i >= process->count) break;
    struct sonde_unwind_mapping *m = &process->mappings[i];
    if (m->start <= pc && pc < m->end) return m;
  }
  return NULL;
}

static __always_inline int read_user_word(__u64 address, __u64 *value) {
  return bpf_probe_read_user(value, sizeof(*value), (const void *)address);
}

/// One frame of the walk (a bpf_loop callback): records the current ip, then steps to the caller.
static long unwind_step(__u64 index, void *context) {
  struct unwind_state *state = context;
  __u32 zero = 0;
  struct sonde_profile_stack *frames = bpf_map_lookup_elem(&unwind_frames, &zero);
  if (!frames) return 1;
  __u32 n = state->frames;
  if (n >= SONDE_PROFILE_MAX_DEPTH) {
    state->stop = SONDE_PROFILE_STAT_UNWIND_DEPTH;
    return 1;
  }
  frames->ips[n] = state->ip;
  state->frames = n + 1;

  // A caller's return address is looked up one byte earlier: inside its call instruction.
  __u64 pc = n == 0 ? state->ip : state->ip - 1;
  struct sonde_unwind_process *process = state->process;
  struct sonde_unwind_mapping *mapping = process ? find_mapping(process, pc) : NULL;
  struct sonde_unwind_row *row = mapping ? find_row(mapping, pc) : NULL;
  __u8 kind = row ? row->cfa_kind : SONDE_UNWIND_CFA_GAP;
  __u64 cfa;
  __u64 return_address;
  if (kind == SONDE_UNWIND_CFA_END) {
    state->stop = SONDE_PROFILE_STAT_UNWIND_END;
    return 1;
  }
  if (kind == SONDE_UNWIND_CFA_UNSUPPORTED || (kind == SONDE_UNWIND_CFA_RBP && !state->bp_known)) {
    state->stop = SONDE_PROFILE_STAT_UNWIND_BAD_RULE;
    return 1;
  }
  if (kind == SONDE_UNWIND_CFA_GAP) {
    // No table: the frame-pointer chain, CFA = rbp + 16, return address at rbp + 8, saved rbp at rbp.
    __u64 bp = state->bp;
    if (!state->bp_known || bp == 0 || bp <= state->sp) {
      state->stop = SONDE_PROFILE_STAT_UNWIND_NO_TABLE;
      return 1;
    }
    __u64 saved;
    if (read_user_word(bp, &saved) || read_user_word(bp + 8, &return_address)) {
      state->stop = SONDE_PROFILE_STAT_UNWIND_BAD_READ;
      return 1;
    }
    cfa = bp + 16;
    state->bp = saved;
  } else {
    if (kind == SONDE_UNWIND_CFA_RSP) cfa = state->sp + (__s64)row->cfa_offset;
    else if (kind == SONDE_UNWIND_CFA_RBP) cfa = state->bp + (__s64)row->cfa_offset;
    else cfa = state->sp + 8 + ((state->ip & 15) >= (__u64)row->cfa_offset ? 8 : 0); // PLT
    if (read_user_word(cfa - 8, &return_address)) {
      state->stop = SONDE_PROFILE_STAT_UNWIND_BAD_READ;
      return 1;
    }
    if (row->rbp_kind == SONDE_UNWIND_RBP_OFFSET) {
      __u64 saved;
      if (read_user_word(cfa + (__s64)row->rbp_offset, &saved)) {
        state->stop = SONDE_PROFILE_STAT_UNWIND_BAD_READ;
        return 1;
      }
      state->bp = saved;
    } else if (row->rbp_kind == SONDE_UNWIND_RBP_UNDEFINED) {
      state->bp_known = 0;
    }
  }
  if (cfa <= state->sp) {
    state->stop = SONDE_PROFILE_STAT_UNWIND_BAD_RULE;
    return 1;
  }
  if (return_address == 0) {
    state->stop = SONDE_PROFILE_STAT_UNWIND_END;
    return 1;
  }
  state->sp = cfa;
  state->ip = return_address;
  return 0;
}

/// Walks the current task's user stack into this CPU's `unwind_frames` (leaf first, a zero after the last
/// frame unless all 127 are used) and returns the frames found. The registers are the sample's when it
/// interrupted user mode, else the task's saved user registers.
static __always_inline __u32 unwind_into_frames(void *ctx, __u32 pid) {
  struct unwind_state state = {};
  if ((((__u64 *)ctx)[17] & 3) == 3) {
    // bpf_user_pt_regs_t: bp, ip and sp are its 5th, 17th and 20th words.
    state.bp = ((__u64 *)ctx)[4];
    state.ip = ((__u64 *)ctx)[16];
    state.sp = ((__u64 *)ctx)[19];
  } else {
    struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
    state.bp = BPF_CORE_READ(regs, bp);
    state.ip = BPF_CORE_READ(regs, ip);
    state.sp = BPF_CORE_READ(regs, sp);
  }
  state.process = bpf_map_lookup_elem(&unwind_processes, &pid);
  state.bp_known = 1;
  bpf_loop(SONDE_PROFILE_MAX_DEPTH + 1, unwind_step, &state, 0);
  count_stat(state.stop ? state.stop : SONDE_PROFILE_STAT_UNWIND_DEPTH);
  __u32 zero = 0;
  struct sonde_profile_stack *frames = bpf_map_lookup_elem(&unwind_frames, &zero);
  if (!frames) return 0;
  // One zero ends the frames for the hash and for user space; what an earlier walk left after it is never
  // read (zeroing the whole tail took about 120 bpf_loop calls, 1.4 µs, a sample). The index is 64-bit and
  // hidden from the compiler's folding: Linux 6.1's verifier loses a 32-bit bound on its way to a shift.
  __u64 end = state.frames;
  asm volatile("" : "+r"(end));
  if (end < SONDE_PROFILE_MAX_DEPTH) frames->ips[end] = 0;
  return end < SONDE_PROFILE_MAX_DEPTH ? end : SONDE_PROFILE_MAX_DEPTH;
}

/// Walks the current task's user stack into `out` (leaf first, as bpf_get_stack fills it) and returns the
/// bytes written.
static __always_inline __u32 unwind_user_stack(void *ctx, __u32 pid, __u64 *out) {
  __u32 n = unwind_into_frames(ctx, pid);
  __u32 zero = 0;
  struct sonde_profile_stack *frames = bpf_map_lookup_elem(&unwind_frames, &zero);
  if (!frames || n == 0 || n > SONDE_PROFILE_MAX_DEPTH) return 0;
  // The whole array (the record's user_bytes says how much of it is this walk's): a constant size, which
  // every verifier accepts (Linux 6.1 rejects n * 8 as unbounded even after the check above).
  bpf_probe_read_kernel(out, sizeof(frames->ips), frames->ips);
  return n * sizeof(__u64);
}

#endif
