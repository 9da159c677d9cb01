// swift-tools-version: 6.1
// Sonde: Linux performance events and eBPF, from Swift.
import PackageDescription

let package = Package(
  name: "Sonde",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "sonde", targets: ["sonde"]),
    .executable(name: "sonde-agent", targets: ["sonde-agent"]),
    .library(name: "SondeSystem", targets: ["SondeSystem"]),
    .library(name: "PerfEvents", targets: ["PerfEvents"]),
    .library(name: "SondeCore", targets: ["SondeCore"]),
    .library(name: "Symbols", targets: ["Symbols"]),
    .library(name: "Profiles", targets: ["Profiles"]),
    .library(name: "BPF", targets: ["BPF"]),
    .library(name: "SondeBPFEngines", targets: ["SondeBPFEngines"]),
    .library(name: "Pprof", targets: ["Pprof"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    // Only `sonde agent` (the SondeAgent target and its executable) links these.
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    // Already in the graph through Hummingbird: the agent names NIO's event loop group and Channel itself.
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
  ],
  targets: [
    // Kernel uapi headers and the few shims Swift cannot express (variadic syscall/ioctl, fork+exec).
    .target(name: "CSonde"),
    // The base every kernel-facing module stands on: SondeError, the owning FileDescriptor, the one syscall
    // funnel, /proc and file helpers, output files, the lock, the stop token.
    .target(name: "SondeSystem", dependencies: ["CSonde"]),
    // Pure-Swift perf_event_open: event specs, PMU discovery, counters, rings, perf.data.
    .target(name: "PerfEvents", dependencies: ["CSonde", "SondeSystem"]),
    // Symbolization: ELF, process maps, kallsyms, Swift/C++/Rust demangling, cached Symbolizer; call-frame
    // unwind tables. Optimized in debug builds too: the profiler builds unwind tables while the processes it
    // profiles start, and at -Onone that took 10 times longer (the tests run debug builds).
    .target(
      name: "Symbols", dependencies: ["SondeSystem"],
      swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
    // Text helpers for renderers: number formatting, column padding, JSON writing. No dependencies.
    .target(name: "SondeText"),
    // The transport-neutral Profile model and its exporters (folded stacks, flame graph SVG).
    .target(name: "Profiles", dependencies: ["SondeText"]),
    // zlib from Debian's zlib1g-dev, as a system library (gzip for pprof files).
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    // pprof output: the exporter from the Profile model, writing protobuf's wire format itself, and gzip.
    // Only pprof output links zlib.
    .target(name: "Pprof", dependencies: ["Profiles", "CZlib"]),
    // pprof's messages as swift-protobuf generates them (committed; scripts/generate-pprof.sh remakes them),
    // to decode pprof files: the tests read what the exporter writes with it. No shipped program links it.
    .target(
      name: "PprofMessages",
      dependencies: ["Pprof", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      exclude: ["profile.proto"]),
    // The engines behind each verb. They return values; they never print.
    .target(name: "SondeCore", dependencies: ["SondeSystem", "SondeText", "PerfEvents", "Symbols", "Profiles"]),
    // The command-line tool: parse, call an engine, render.
    .executableTarget(
      name: "sonde",
      dependencies: [
        "CSonde", "SondeSystem", "SondeText", "SondeCore", "PerfEvents", "Symbols", "BPF", "SondeBPFPrograms",
        "SondeBPFEngines", "SondeBench", "Profiles", "Pprof",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // The bundled demo workload: deterministic syscalls, page touching and functions of known CPU share.
    // Built with frame pointers, leaf functions included, so frame-pointer unwinding sees whole stacks.
    .executableTarget(
      name: "sonde-demo",
      cSettings: [.unsafeFlags(["-O1", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer", "-fno-inline"])]),
    // perf.data parsing throughput (Benchmarks/perfdata.sh runs it next to perf report).
    .executableTarget(
      name: "sonde-perfdata-bench", dependencies: ["SondeSystem", "PerfEvents", "SondeCore"],
      path: "Benchmarks/PerfDataBench"),
    // Shared by the test targets: locating built products, running the CLI and oracle tools.
    .target(name: "SondeTestSupport", dependencies: ["Pprof", "PprofMessages"], path: "Tests/SondeTestSupport"),
    .testTarget(name: "PerfEventsTests", dependencies: ["PerfEvents", "SondeSystem", "CSonde", "SondeTestSupport"]),
    .testTarget(name: "SondeCoreTests", dependencies: ["SondeCore", "SondeSystem", "PerfEvents", "SondeTestSupport"]),
    .testTarget(
      name: "SondeCLITests", dependencies: ["PerfEvents", "SondeSystem", "SondeTestSupport", "Pprof", "PprofMessages"]),
    .testTarget(name: "SymbolsTests", dependencies: ["Symbols", "SondeSystem", "SondeTestSupport"]),
    .testTarget(name: "ProfilesTests", dependencies: ["Profiles", "Pprof", "PprofMessages", "SondeTestSupport"]),
    // Benchmark: Symbolizer throughput versus llvm-symbolizer (results in BENCHMARKS.md).
    .executableTarget(
      name: "sonde-bench-symbols", dependencies: ["SondeSystem", "Symbols"], path: "Benchmarks/SymbolsBenchmark"),
    // libbpf from Debian's libbpf-dev, as a system library.
    .systemLibrary(name: "CLibbpf", pkgConfig: "libbpf", providers: [.apt(["libbpf-dev"])]),
    // Compiles every *.bpf.c of a target with the toolchain's clang and embeds the objects as byte arrays.
    .plugin(name: "BPFCompiler", capability: .buildTool()),
    // C structs shared by the BPF programs and Swift (include/sonde/*.h).
    .target(name: "SondeBPFTypes"),
    // Sonde's BPF programs (bpf/*.bpf.c, compiled by the plugin, not by SwiftPM's C compiler).
    .target(
      name: "SondeBPFPrograms", dependencies: ["SondeBPFTypes"], exclude: ["bpf"],
      plugins: ["BPFCompiler"]),
    // BPF programs only the tests and benchmarks load (Tests/SondeBPFTestPrograms/bpf/*.bpf.c): not shipped.
    .target(
      name: "SondeBPFTestPrograms", dependencies: ["SondeBPFPrograms", "SondeBPFTypes"],
      path: "Tests/SondeBPFTestPrograms", exclude: ["bpf"], plugins: ["BPFCompiler"]),
    // Swift over libbpf: objects, programs, typed maps, ring/perf buffers, links, feature probes.
    .target(
      name: "BPF",
      dependencies: ["CLibbpf", "CSonde", "SondeSystem", "PerfEvents", "Symbols", "SondeBPFPrograms", "SondeBPFTypes"]),
    // The eBPF engines (the CPU profiler; later off-CPU and trace): BPF programs that aggregate in the kernel,
    // drained into the shared Profile model. Only this layer and the CLI link libbpf's engines.
    .target(
      name: "SondeBPFEngines",
      dependencies: [
        "BPF", "CSonde", "SondeBPFPrograms", "SondeBPFTypes", "SondeSystem", "PerfEvents", "Symbols", "Profiles",
        "SondeCore",
      ]),
    // `sonde bench overhead`: runs the demo's bench workloads under the sampling floor and each profiler
    // (Sonde's and its peers', as processes) and measures throughput lost, profiler CPU and BPF run time.
    .target(
      name: "SondeBench",
      dependencies: [
        "BPF", "SondeBPFEngines", "SondeBPFPrograms", "SondeSystem", "SondeText", "PerfEvents", "Profiles",
      ]),
    .testTarget(name: "SondeBenchTests", dependencies: ["SondeBench"]),
    // SQLite from Debian's libsqlite3-dev, as a system library: the agent's store.
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    // `sonde agent`: continuous system-wide profiling into a SQLite store (its C API), served over HTTP
    // (Hummingbird: web UI, pprof, Prometheus metrics) and pushed to a Pyroscope-compatible backend. The
    // only targets with a web server, a database and the service lifecycle; `sonde agent` runs the
    // `sonde-agent` executable, so the `sonde` binary links none of them.
    .target(
      name: "SondeAgent",
      dependencies: [
        "SondeBPFEngines", "SondeSystem", "SondeText", "Profiles", "Pprof",
        "CSQLite",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]),
    .executableTarget(
      name: "sonde-agent",
      dependencies: [
        "SondeAgent", "SondeBPFEngines", "SondeSystem",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ]),
    .testTarget(
      name: "SondeAgentTests",
      dependencies: [
        "SondeAgent", "SondeSystem", "SondeTestSupport", "Pprof", "PprofMessages", "Profiles",
        .product(name: "Hummingbird", package: "hummingbird"),
      ]),
    // Test helper (not shipped): hosts a counting engine, a recorder and a BPF ring-buffer reader in one
    // process and stops one of them (HostedEnginesTests runs it).
    .executableTarget(
      name: "sonde-hosting-check",
      dependencies: [
        "CSonde", "SondeSystem", "PerfEvents", "SondeCore", "BPF", "SondeBPFTestPrograms", "SondeBPFTypes",
      ],
      path: "Tests/HostingCheck"),
    // Benchmark: batch drain vs per-element syscalls on a 100k-entry hash map (results in BENCHMARKS.md).
    .executableTarget(
      name: "bpf-batch-bench", dependencies: ["BPF", "SondeBPFTestPrograms"], path: "Benchmarks/BPFBatch"),
    .testTarget(
      name: "BPFTests",
      dependencies: [
        "BPF", "SondeBPFEngines", "SondeBPFPrograms", "SondeBPFTestPrograms", "SondeBPFTypes", "SondeSystem",
        "PerfEvents", "Symbols",
        "CSonde", "SondeTestSupport",
      ]),
  ]
)
