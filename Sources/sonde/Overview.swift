// sonde: the command-line tool. Each verb (one file each) parses its flags (perf's grammar; shared target
// flags in `TargetOptions`), calls an engine, and renders the result; every verb reports failures as
// `sonde VERB: error: … / hint: …`. Only here are SIGINT/SIGTERM turned into a stop (`TerminationSignals`).
// Test-only modes live in the sonde-hosting-check helper, not in this binary.
