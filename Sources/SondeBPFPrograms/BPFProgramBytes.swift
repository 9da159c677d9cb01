/// The compiled BPF objects of Sonde, one static byte array per `bpf/*.bpf.c` source.
///
/// The BPFCompiler build-tool plugin compiles each source with the toolchain's clang
/// (`-O2 -g -target bpf`) and adds a `static let <stem>: [UInt8]` to this namespace, so the objects
/// ship inside the binary and are opened with libbpf's `bpf_object__open_mem`.
public enum BPFProgramBytes {}
