// Profiles: the one profile model both Sonde clients produce, and the exporters that work on it.
// Depends on SondeText only.
//
// `Profile` is a set of tables addressed by integer ids, the shape pprof uses: locations (an address in one
// address space), stacks (runs of location ids in one flat `SequenceTable`), threads, and entries (a distinct
// (stack, thread) pair with its count and weight), plus mappings and lost/dropped counters. Transports build
// it through `ProfileBuilder` — the perf reader (SondeCore's ProfileLoader), the eBPF profiler from stack
// maps — and memory follows distinct stacks, not samples. `ResolvedProfile` symbolizes each location once
// (any resolver closure) and interns functions and command names; the exporters — `FoldedExporter`
// (folded stacks), `FlameGraphSVG` (a self-contained interactive SVG), SondeCore's report engine — read
// those tables, so every output works for every transport.
