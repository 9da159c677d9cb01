import Foundation
import SondeTestSupport

/// The C program the unwind-table tests compile with `-fomit-frame-pointer`: functions whose call-frame
/// information exercises what compilers emit (pushes of callee-saved registers, an rbp-based CFA for
/// alloca, a frame larger than 64 KiB, shrink-wrapped early exits with remember/restore_state).
extension FixtureSources {
  static let unwindProgram = #"""
    #include <alloca.h>
    #include <stdio.h>
    #include <string.h>

    __attribute__((noinline)) long leaf(long x) { return x * 3 + 1; }

    __attribute__((noinline)) long many_saved(long a, long b, long c, long d, long e, long f) {
      long s = 0;
      for (long i = 0; i < a; i++) s += leaf(i * b) ^ leaf(c + i) ^ leaf(d - i) ^ leaf(e) ^ f;
      return s + a + b + c + d + e + f;
    }

    __attribute__((noinline)) long variable_frame(int n) {
      char *buffer = alloca(n + 16);
      memset(buffer, n, n + 16);
      long s = 0;
      for (int i = 0; i < n; i++) s += buffer[i] + leaf(i);
      return s;
    }

    __attribute__((noinline)) long big_frame(int n) {
      volatile char buffer[70000];
      buffer[n] = 1;
      return buffer[n] + leaf(n);
    }

    __attribute__((noinline)) long early_exit(long x) {
      if (x < 0) return x;
      long values[16];
      for (int i = 0; i < 16; i++) values[i] = leaf(x + i);
      long s = 0;
      for (int i = 0; i < 16; i++) s += values[i] * many_saved(i, x, 1, 2, 3, 4);
      return s;
    }

    int main(int argc, char **argv) {
      (void)argv;
      printf("%ld\n", many_saved(argc, 2, 3, 4, 5, 6) + variable_frame(argc * 10) + big_frame(argc) + early_exit(argc));
      return 0;
    }
    """#
}

extension Support {
  /// `unwindProgram` built with `cc -O2 -fomit-frame-pointer`: call-frame information in `.eh_frame` only.
  static let unwindFixture: Result<String, Error> = Result {
    try buildUnwindFixture(name: "sonde-unwind-fixture", flags: ["-O2", "-fomit-frame-pointer"])
  }

  /// The same program with `-g -fno-asynchronous-unwind-tables`: its own functions are described in
  /// `.debug_frame`, the C runtime's in `.eh_frame`.
  static let debugFrameFixture: Result<String, Error> = Result {
    try buildUnwindFixture(
      name: "sonde-unwind-fixture-debug-frame",
      flags: ["-O2", "-fomit-frame-pointer", "-g", "-fno-asynchronous-unwind-tables"])
  }

  private static func buildUnwindFixture(name: String, flags: [String]) throws -> String {
    guard let cc = TestSupport.tool("cc") ?? TestSupport.tool("gcc") else {
      throw FixtureError(message: "cc not found (apt-get install gcc)")
    }
    return try buildOnce(name: name, source: FixtureSources.unwindProgram, sourceExtension: "c", flags: flags) {
      try run(cc, flags + [$0, "-o", $1]).0
    }
  }
}
