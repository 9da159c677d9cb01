// Symbols: turns addresses into names for every report Sonde prints.
//
// - `ELFFile` reads ELF images (memory-mapped, bounds-checked, 32/64-bit, either byte order): headers,
//   segments, sections, `.symtab`/`.dynsym`, build-id, `.gnu_debuglink`, file offset ↔ virtual address.
//   `DebugFileLocator` finds separate debug files (`/usr/lib/debug/.build-id/xx/…debug`, debuglink paths).
// - `ProcessMaps` parses `/proc/PID/maps`; `PerfMap` reads JIT maps (`/tmp/perf-PID.map`);
//   `KernelSymbols` reads `/proc/kallsyms`, bounding module symbols with `/proc/modules` (`KernelModule`).
// - Symbol extents follow perf and llvm-symbolizer: sized symbols cover `[value, value+size)`; zero-sized
//   functions and assembly labels (STT_NOTYPE in executable sections, e.g. ld.so's `_start`) run to the next
//   symbol, the last one to the page after its own; anything else is `[unknown]` with module+offset.
// - `Demangler` dispatches on the mangling scheme: Swift (the runtime's `swift_demangle`), C++
//   (`__cxa_demangle`), Rust legacy and v0 (Sonde's own).
// - `Symbolizer` is the cached, thread-safe service the engines use: batches of (pid, address), recorded
//   mappings (perf.data), files (`sonde symbolize -e`) and kernel addresses, answering `SymbolizedFrame`s.
// - `Unwind/` compiles x86-64 call-frame information (`.eh_frame`, `.debug_frame`) into an `UnwindTable`:
//   sorted rows of compact, hashable rules (CFA = rsp/rbp + offset or the PLT expression, where rbp and the
//   return address are saved, end of stack), checked against readelf. `StackUnwinder` walks a copied user
//   stack with those tables, falling back to frame pointers, for perf `--call-graph dwarf` samples.
//
// Limits: no DWARF debug information (function names come from symbol tables, so no file:line and no
// inlined frames), no MiniDebugInfo (`.gnu_debugdata`, xz), and a mapped file truncated in place while being
// read would fault (binaries are normally replaced by rename, which keeps the mapped inode intact).
//
// Depends on SondeSystem only (errors, file and /proc helpers, the lock): not on PerfEvents.
