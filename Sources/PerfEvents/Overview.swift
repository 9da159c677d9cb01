// PerfEvents: perf_event_open in Swift. Depends on CSonde (uapi headers) and SondeSystem.
//
// - Event grammar (`EventParser`, `EventCatalog`, `PMU`, `TraceFS`) → `EventSpec` (plain data) →
//   `PerfEventFD` (the live, owning descriptor; E2BIG retry, `:u` fallback, explained errors).
// - Counting: `CounterSet`, `CounterReading`/`ReadFormat`, `PausedChild` (a command held before exec).
// - Sampling: `SampleRing` (the mmap ring: acquire/release barriers, wrap-around, overwrite mode),
//   `RingPoller` (an `EventWaiter` over rings + a stop token), `SamplingAttributes`.
// - Records and perf.data: `Records/` decodes and encodes every record type; `PerfData/` reads (mapped files
//   or checked streams) and writes (header first, kept valid) perf.data in file and pipe mode.
