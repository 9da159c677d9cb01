// SondeCore: the perf-style engines behind the verbs (stat, record, report, script). Depends on SondeSystem,
// SondeText (the stat renderer), PerfEvents, Symbols and Profiles. Engines return values, never print, and
// install no signal handlers: each runs until done or until its `StopToken` is stopped, so several can be
// hosted in one process.
//
// - Stat/: `StatEngine` (counting, intervals, repeats) and `StatRenderer` (perf stat's formats).
// - Record/: `Recorder` = `RecordTargets` (who) + `RecordRings` (the kernel side) + `RecordingSession`
//   (rounds to the file); `ProcSynthesizer` (side-band of what already runs), `BuildIDCollector`.
// - Report/: `RecordWalker` (the one pass over a file's records), `ProfileLoader` (→ `Profile`),
//   `FileSymbolResolver`, `ReportSession`, `ReportEngine`, `ScriptEngine`.
