// Common prelude of Sonde's BPF programs.
//
// CO-RE without a generated vmlinux.h: the programs touch only a few kernel fields (task_struct pid/tgid,
// pt_regs registers), so each struct is declared here with just those fields and
// __attribute__((preserve_access_index)). clang then records a relocation per field access and libbpf
// rewrites the offsets against the running kernel's BTF at load time. A full vmlinux.h would be a
// multi-megabyte generated file tied to one kernel's configuration; these declarations are a dozen lines
// and work on every kernel with BTF.
#ifndef SONDE_BPF_H
#define SONDE_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <stdbool.h>

// Tell bpf_tracing.h to use the kernel's register names (ax, di, …) that match the struct below.
#define __VMLINUX_H__ 1

struct pt_regs {
  unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip;
  unsigned long cs, flags, sp, ss;
} __attribute__((preserve_access_index));

struct task_struct {
  unsigned int __state; // `state` before Linux 5.14 (read through BPF_CORE_READ only where it exists)
  unsigned int flags;
  int pid;
  int tgid;
} __attribute__((preserve_access_index));

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include <sonde/events.h>

char LICENSE[] SEC("license") = "GPL";

/// What a tracepoint program attached through a perf event returns. The kernel treats 0 as "drop this
/// event for every perf user of the tracepoint" (perf_trace_run_bpf_submit, perf_syscall_enter), which
/// would silently zero a concurrent `perf stat` or `sonde stat` of the same tracepoint. Sonde's programs
/// observe, they never filter other tools' events, so they let the event through.
#define SONDE_TP_KEEP_EVENT 1

#endif
