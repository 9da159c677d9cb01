// Structs and constants shared by Sonde's BPF programs (compiled with -target bpf) and Swift (imported
// through the SondeBPFTypes module). Defined once here so both sides agree on every byte.
#ifndef SONDE_EVENTS_H
#define SONDE_EVENTS_H

#include <linux/types.h>

/// Slots of the `counts` array map of count.bpf.c: one per attach flavour counting the same syscall.
enum sonde_count_slot {
  SONDE_COUNT_TRACEPOINT = 0,
  SONDE_COUNT_RAW_TP = 1,
  SONDE_COUNT_TP_BTF = 2,
  SONDE_COUNT_SLOTS = 4,
};

/// x86-64 syscall number of getpid (raw_tp/tp_btf sys_enter see the number, not the name).
#define SONDE_NR_GETPID 39

/// Slots of the `stats` array map of ringbuf.bpf.c.
enum sonde_stat_slot {
  SONDE_STAT_SEQUENCE = 0,  ///< events produced (reserved or not)
  SONDE_STAT_DROPS = 1,     ///< ringbuf reserve or perf output failures: the kernel keeps no such counter
  SONDE_STAT_SLOTS = 2,
};

/// One event of the ringbuf/perf-buffer producers: a sequence number so consumers can check order.
struct sonde_event {
  __u64 seq;
  __u32 tid;
  __u32 cpu;
  __u64 timestamp_ns;
};

#endif
