/// The BPF programs only Sonde's tests and benchmarks load (fixtures: an invalid program for verifier
/// errors, ring and perf buffer producers, map fillers, uprobe/USDT/tracepoint counters), compiled by the
/// BPFCompiler plugin like the shipped ones, and kept out of the product: a user of the BPF library ships
/// none of them.
public enum BPFTestProgramBytes {}
