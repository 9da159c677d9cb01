// Profiles: the one profile model both Sonde clients produce, and the exporters that work on it.
//
// `Profile` holds interned stacks of raw addresses (kernel and user parts, leaf first) per thread with
// sample counts and weights, the mappings to symbolize them, and the lost/dropped counters. The perf-style
// client builds it from PERF_RECORD_SAMPLEs (SondeCore's ProfileLoader); the eBPF profiler builds it from
// stack maps. `ResolvedProfile` is the same data after symbolization (any resolver closure), and the
// exporters — `FoldedExporter` (Brendan Gregg's folded stacks) and `FlameGraphSVG` (a self-contained,
// interactive SVG) — consume it, so every output works for every transport.
