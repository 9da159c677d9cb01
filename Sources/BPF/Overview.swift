// BPF: Swift over libbpf. Depends on CLibbpf, CSonde, SondeSystem, PerfEvents (perf events to attach to),
// Symbols (uprobe offsets from ELF) and the shipped programs (SondeBPFPrograms: the feature-probe programs).
//
// - `OpenBPFObject` (configure: constants, map sizes, autoload) → `load()` → `BPFObject` (live programs and
//   maps; closing it detaches every link). Verifier rejections carry the reason, the last lines and the log.
// - `BPFProgram` + attach calls, each taking an options value (`AttachOptions`, `UprobeOptions`,
//   `USDTOptions`, `KprobeOptions`: pid, return probe, offset, BPF cookie) → `BPFLink`; `BPFMap<Key, Value>` with batch lookup(-and-delete);
//   `RingBufferReader`, `PerfBufferReader` (polled on a `BlockingThread`).
// - `BPFErrors` explains failures (capabilities, `unprivileged_bpf_disabled`); unsupported facilities are
//   `.notSupported` with `Unsupported` (facility, cause). `BPFFeatures` probes the kernel for real, memoised.
// Test fixtures live in the test-only SondeBPFTestPrograms target, not here.
