// One empty program per attach type, for feature probes: each probe loads this object with only its
// program enabled and attaches it for real, because only an attach shows what the kernel allows.
#include "sonde_bpf.h"

SEC("kprobe/do_nanosleep")
int sonde_kprobe(void *ctx) { return 0; }

SEC("kretprobe/do_nanosleep")
int sonde_kretprobe(void *ctx) { return 0; }

SEC("kprobe.multi/do_nanosleep")
int sonde_kmulti(void *ctx) { return 0; }

SEC("fentry/do_nanosleep")
int BPF_PROG(sonde_fentry) { return 0; }

SEC("fexit/do_nanosleep")
int BPF_PROG(sonde_fexit) { return 0; }

SEC("tracepoint/syscalls/sys_enter_getpid")
int sonde_probe_tp(void *ctx) { return SONDE_TP_KEEP_EVENT; }

SEC("raw_tp/sys_enter")
int sonde_probe_raw(void *ctx) { return 0; }

SEC("tp_btf/sys_enter")
int BPF_PROG(sonde_probe_btf) { return 0; }

SEC("uprobe")
int sonde_probe_up(void *ctx) { return 0; }

SEC("perf_event")
int sonde_probe_perf(void *ctx) { return 0; }
