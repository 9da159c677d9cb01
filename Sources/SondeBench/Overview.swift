// SondeBench: `sonde bench overhead`, the measurement behind the project's claim that aggregating in the
// kernel costs less than streaming every sample to user space.
//
// - `OverheadBench` runs the demo's bench workloads alone, under `SamplingFloor` and under each profiler
//   (started as a user starts it, by `ProfilerCommand`, as a `Subprocess`), and reads /proc
//   (`ProcessProbe`) around each measurement window.
// - `OverheadStatistics` is the arithmetic (loss per round against that round's baseline, cost above the
//   floor, spreads), apart from any measuring so tests check it on made-up numbers.
// - `OverheadChart` draws the SVG; the CLI renders the tables and JSON.
//
// Depends on BPF and SondeBPFEngines (the floor samples with the profiler's own events), PerfEvents (reading
// the recorders' perf.data), SondeSystem, SondeText and Profiles. It never prints.
