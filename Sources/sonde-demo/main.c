// sonde-demo: the bundled demo workload. Every mode is deterministic so tests can state exact
// expectations: `getpid N` makes exactly N getpid syscalls, `pages K` touches K fresh pages,
// `spin MS` burns CPU, `shares MS` spends CPU in three functions in a known 50/30/20 ratio (through a
// shared leaf `burn`), `selfshares MS` does the same with the CPU spent in each function's own body.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// USDT probes (systemtap-sdt-dev's <sys/sdt.h>): a nop plus an ELF note, free when nobody attaches.
#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#else
#define DTRACE_PROBE1(provider, name, arg) ((void)(arg))
#endif

static volatile uint64_t sink;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// Burns CPU for `ns` nanoseconds of this thread's CPU time.
__attribute__((noinline)) static void burn(uint64_t ns) {
  uint64_t end = now_ns() + ns;
  uint64_t x = sink;
  while (now_ns() < end) {
    for (int i = 0; i < 2000; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  }
  sink = x;
}

// The empty asm after each call keeps it out of tail position, so the compiler cannot turn it into a
// jump and drop the caller's frame: stacks read main → shares → demo_hot → burn.
__attribute__((noinline)) void demo_hot(uint64_t ns) { burn(ns); __asm__ volatile(""); }
__attribute__((noinline)) void demo_warm(uint64_t ns) { burn(ns); __asm__ volatile(""); }
__attribute__((noinline)) void demo_cool(uint64_t ns) { burn(ns); __asm__ volatile(""); }

/// The body of burn, inlined by hand so each self_* function spends the CPU in its own code.
#define BURN_HERE(ns)                                                                       \
  do {                                                                                     \
    uint64_t end_ = now_ns() + (ns);                                                       \
    uint64_t x_ = sink;                                                                    \
    while (now_ns() < end_) {                                                              \
      for (int i_ = 0; i_ < 20000; i_++) x_ = x_ * 6364136223846793005ull + 1442695040888963407ull; \
    }                                                                                      \
    sink = x_;                                                                             \
  } while (0)

__attribute__((noinline)) void self_hot(uint64_t ns) { BURN_HERE(ns); }
__attribute__((noinline)) void self_warm(uint64_t ns) { BURN_HERE(ns); }
__attribute__((noinline)) void self_cool(uint64_t ns) { BURN_HERE(ns); }

/// Like shares, but each function burns in its own body, so self time (not only children time) is
/// split 50/30/20 over self_hot/self_warm/self_cool.
__attribute__((noinline)) static void self_shares(uint64_t total_ms) {
  for (uint64_t done = 0; done < total_ms; done += 10) {
    self_hot(5000000);
    self_warm(3000000);
    self_cool(2000000);
  }
}

/// Spends CPU in demo_hot, demo_warm and demo_cool in the ratio 5:3:2, in 10 ms slices.
__attribute__((noinline)) static void shares(uint64_t total_ms) {
  for (uint64_t done = 0; done < total_ms; done += 10) {
    demo_hot(5000000);
    demo_warm(3000000);
    demo_cool(2000000);
  }
}

/// Makes exactly n getpid system calls.
__attribute__((noinline)) static void getpid_loop(long n) {
  for (long i = 0; i < n; i++) syscall(SYS_getpid);
}

/// Touches k fresh anonymous pages, one write each.
__attribute__((noinline)) static void touch_pages(long k) {
  long page = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, (size_t)(k * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  for (long i = 0; i < k; i++) p[i * page] = 1;
  munmap(p, (size_t)(k * page));
}

/// Returns 2*i+1: a known value per call, for uretprobe tests (one call per i in calls mode).
__attribute__((noinline)) long demo_value(long i) {
  sink += (uint64_t)i;
  return 2 * i + 1;
}

/// Calls demo_value exactly n times, with i = 0 … n-1.
__attribute__((noinline)) static void calls(long n) {
  for (long i = 0; i < n; i++) {
    DTRACE_PROBE1(sonde_demo, value, i);
    sink += (uint64_t)demo_value(i);
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: sonde-demo getpid N | pages K | spin MS | shares MS | selfshares MS | calls N | exit CODE\n"
          "  getpid N   make exactly N getpid syscalls\n"
          "  pages K    touch K fresh pages\n"
          "  spin MS    burn MS milliseconds of CPU\n"
          "  shares MS  burn MS ms of CPU split 50/30/20 over demo_hot/demo_warm/demo_cool\n"
          "  selfshares MS  like shares, but the CPU is spent in self_hot/self_warm/self_cool's own bodies\n"
          "  calls N    call demo_value(i) for i = 0 … N-1 (returns 2i+1); USDT sonde_demo:value(i) before each\n"
          "  exit CODE  exit with CODE\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  long n = strtol(argv[2], NULL, 10);
  if (strcmp(argv[1], "getpid") == 0) getpid_loop(n);
  else if (strcmp(argv[1], "pages") == 0) touch_pages(n);
  else if (strcmp(argv[1], "spin") == 0) burn((uint64_t)n * 1000000ull);
  else if (strcmp(argv[1], "shares") == 0) shares((uint64_t)n);
  else if (strcmp(argv[1], "selfshares") == 0) self_shares((uint64_t)n);
  else if (strcmp(argv[1], "calls") == 0) calls(n);
  else if (strcmp(argv[1], "exit") == 0) return (int)n;
  else usage();
  return 0;
}
