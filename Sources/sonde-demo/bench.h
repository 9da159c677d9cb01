#ifndef SONDE_DEMO_BENCH_H
#define SONDE_DEMO_BENCH_H

/// Runs the `shape` workload ("flat" or "tree") on one thread per online CPU for `milliseconds`, then
/// prints "units N", "threads T" and "seconds S" on stdout. Returns -1 for an unknown shape.
int bench_workload(const char *shape, long milliseconds);

#endif
