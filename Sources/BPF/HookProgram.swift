import SondeBPFPrograms

/// The probe programs (hooks.bpf.c): one empty program per attach type.
enum HookProgram {
  static var bytes: [UInt8] { BPFProgramBytes.hooks }
}
