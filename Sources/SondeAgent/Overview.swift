// SondeAgent: `sonde agent`, the always-on continuous profiler: the eBPF-style client run for days at a
// low rate, with its history on local disk, served over HTTP and pushed to a fleet backend.
//
// - `Agent` runs `BPFProfiler` system-wide with a window hook (`onWindow`): each drain (a slice, two seconds)
//   becomes an `AgentSlice` of interned samples (`AgentInterner`: functions, stacks, process labels read
//   from /proc by `ProcessLabels`), slices merge into windows written to `ProfileStore` (SQLite through its
//   C API in `SQLiteDatabase`, WAL, one transaction per window; retention and compaction) and queued for
//   `Pusher` (`PushQueue` on disk, `HTTPPost` to a Pyroscope-compatible /ingest). The last minutes of
//   slices stay in memory for live queries (/debug/pprof/profile).
// - `AgentServer` is the HTTP surface (Hummingbird's router): the web UI (`AgentPage`), its JSON API and
//   pprof (`AgentExport`), Prometheus metrics (`AgentMetrics`), the token check (`TokenCheck`).
//   `AgentHTTPServer` serves it through HummingbirdCore's HTTP/1 server, without Hummingbird
//   Application's once-a-second date cache.
// - `AgentServices` are the swift-service-lifecycle services the `sonde-agent` executable groups with
//   the HTTP server, so SIGTERM/SIGINT shut everything down in order and the window in progress is written.
//
// Depends on SondeBPFEngines, Profiles, Pprof, SondeSystem, SondeText, CSQLite and the agent-only packages
// (Hummingbird, swift-prometheus, swift-log, swift-service-lifecycle). Nothing else in Sonde links them.
// Nothing the agent links calls Foundation (only FoundationEssentials): loading it would map Foundation and
// ICU, 8 MB of an always-on process's memory. SQLite's C API stands in for a Foundation-based wrapper, and
// pprof is written without swift-protobuf for the same reason.
