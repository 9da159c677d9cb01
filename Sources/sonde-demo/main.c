// sonde-demo: the bundled demo workload. Every mode is deterministic so tests can state exact
// expectations: `getpid N` makes exactly N getpid syscalls, `pages K` touches K fresh pages,
// `spin MS` burns MS ms of thread CPU time, `shares MS` spends CPU in three functions in a known 50/30/20
// ratio of work (through a shared leaf `burn`), `selfshares MS` does the same with the CPU spent in each
// function's own body. The shares modes split fixed amounts of work in each round and read the clock only
// between rounds, so no clock read (a system call on some kernels) lands inside the functions whose shares
// are measured.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

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

/// The work loop every CPU-burning function runs: a multiply-add chain with no memory traffic and no
/// system call, so its cost per iteration is the same in every function that runs it.
#define WORK_LOOP(iterations)                                                        \
  do {                                                                               \
    uint64_t x_ = sink;                                                              \
    for (uint64_t i_ = 0; i_ < (iterations); i_++)                                   \
      x_ = x_ * 6364136223846793005ull + 1442695040888963407ull;                     \
    sink = x_;                                                                       \
  } while (0)

/// Iterations of WORK_LOOP per millisecond of this thread's CPU time, measured once by calibrate().
static uint64_t iterations_per_ms;

/// Measures iterations_per_ms over at least 2 ms of thread CPU time (about 4 ms with the doubling, so a
/// 300 ms run's shares hardly see it), before any share is spent. Besides this, the shares modes read the
/// clock once per 10 ms round, between rounds: on some kernels `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` is
/// a real system call (no vDSO path) whose samples land in libc and the kernel, outside the functions
/// whose shares the tests check, and whose cost nobody can predict on a loaded machine.
__attribute__((noinline)) static void calibrate(void) {
  uint64_t chunk = 1u << 16;
  for (;;) {
    uint64_t start = now_ns();
    WORK_LOOP(chunk);
    uint64_t elapsed = now_ns() - start;
    if (elapsed >= 2000000ull || chunk >= (1ull << 40)) {
      iterations_per_ms = chunk * 1000000ull / (elapsed ? elapsed : 1);
      if (iterations_per_ms == 0) iterations_per_ms = 1;
      return;
    }
    chunk *= 2;
  }
}

/// Burns CPU for `ns` nanoseconds of this thread's CPU time, polling the clock (spin mode only).
__attribute__((noinline)) static void burn_for(uint64_t ns) {
  uint64_t end = now_ns() + ns;
  while (now_ns() < end) WORK_LOOP(2000);
}

/// Runs `iterations` of the work loop: pure computation, the same cost per iteration wherever it runs.
__attribute__((noinline)) static void burn(uint64_t iterations) { WORK_LOOP(iterations); }

// The empty asm after each call keeps it out of tail position, so the compiler cannot turn it into a
// jump and drop the caller's frame: stacks read main → shares → demo_hot → burn.
__attribute__((noinline)) void demo_hot(uint64_t iterations) { burn(iterations); __asm__ volatile(""); }
__attribute__((noinline)) void demo_warm(uint64_t iterations) { burn(iterations); __asm__ volatile(""); }
__attribute__((noinline)) void demo_cool(uint64_t iterations) { burn(iterations); __asm__ volatile(""); }

// Each self_* function runs the work loop in its own body, so self time (not only children time) is
// split 50/30/20 over them.
__attribute__((noinline)) void self_hot(uint64_t iterations) { WORK_LOOP(iterations); }
__attribute__((noinline)) void self_warm(uint64_t iterations) { WORK_LOOP(iterations); }
__attribute__((noinline)) void self_cool(uint64_t iterations) { WORK_LOOP(iterations); }

/// Like shares, but each function burns in its own body: self time splits 50/30/20 over
/// self_hot/self_warm/self_cool.
__attribute__((noinline)) static void self_shares(uint64_t total_ms) {
  calibrate();
  uint64_t ms = iterations_per_ms;
  uint64_t end = now_ns() + total_ms * 1000000ull;
  do {
    self_hot(5 * ms);
    self_warm(3 * ms);
    self_cool(2 * ms);
  } while (now_ns() < end);
}

/// Spends `total_ms` of thread CPU time in demo_hot, demo_warm and demo_cool in the ratio 5:3:2 of work
/// (identical loops, so of CPU time too), in rounds of about 10 ms. The clock is read only between rounds,
/// outside the three functions: the shares are exact by construction, and the total follows the CPU time
/// the kernel accounts, however far off the calibration was (a 2 ms calibration on a shared CPU can be
/// 20% off).
__attribute__((noinline)) static void shares(uint64_t total_ms) {
  calibrate();
  uint64_t ms = iterations_per_ms;
  uint64_t end = now_ns() + total_ms * 1000000ull;
  do {
    demo_hot(5 * ms);
    demo_warm(3 * ms);
    demo_cool(2 * ms);
  } while (now_ns() < end);
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

/// Makes exactly n read(2) calls of one byte from /dev/zero (each is one vfs_read in the kernel).
__attribute__((noinline)) static void reads(long n) {
  int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (fd < 0) exit(1);
  char byte;
  for (long i = 0; i < n; i++)
    if (read(fd, &byte, 1) != 1) exit(1);
  close(fd);
}

/// Returns 2*i+1: a known value per call, for uretprobe tests (one call per i in calls mode).
__attribute__((noinline)) long demo_value(long i) {
  sink += (uint64_t)i;
  return 2 * i + 1;
}

/// Calls demo_value exactly n times, with i = 0 … n-1.
/// Sleeps `ms` milliseconds in this function's own body: the nanosleep system call is made here, not in
/// libc, so a frame-pointer unwind from the blocked thread starts in demo_nap (libc, built without frame
/// pointers, would hide its caller).
__attribute__((noinline)) void demo_nap(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_nanosleep), "D"(&ts), "S"(0L) : "rcx", "r11", "memory");
  (void)ret;
}

/// `naps N`: sleeps 200 ms N times in demo_nap (an off-CPU profile shows N × 200 ms there).
__attribute__((noinline)) static void naps(long n) {
  for (long i = 0; i < n; i++) demo_nap(200);
}

/// `sleeps N`: sleeps 10 ms N times in demo_nap (a latency histogram of demo_nap puts all N in [8, 16) ms).
__attribute__((noinline)) static void sleeps(long n) {
  for (long i = 0; i < n; i++) demo_nap(10);
}

__attribute__((noinline)) static void calls(long n) {
  for (long i = 0; i < n; i++) {
    DTRACE_PROBE1(sonde_demo, value, i);
    sink += (uint64_t)demo_value(i);
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: sonde-demo getpid N | pages K | spin MS | shares MS | selfshares MS | calls N | reads N | naps N | sleeps N | bench-flat MS | bench-tree MS | exit CODE\n"
          "  getpid N   make exactly N getpid syscalls\n"
          "  pages K    touch K fresh pages\n"
          "  spin MS    burn MS milliseconds of CPU\n"
          "  shares MS  burn MS ms of CPU split 50/30/20 over demo_hot/demo_warm/demo_cool\n"
          "  selfshares MS  like shares, but the CPU is spent in self_hot/self_warm/self_cool's own bodies\n"
          "  reads N    make exactly N one-byte read calls on /dev/zero\n"
          "  calls N    call demo_value(i) for i = 0 … N-1 (returns 2i+1); USDT sonde_demo:value(i) before each\n"
          "  naps N     sleep 200 ms N times in demo_nap (off-CPU time of a known stack)\n"
          "  sleeps N   sleep 10 ms N times in demo_nap (a known latency)\n"
          "  bench-flat MS  one busy thread per CPU for MS ms in one stack; prints the work units done\n"
          "  bench-tree MS  the same work down random paths of a call tree (262144 distinct stacks)\n"
          "  exit CODE  exit with CODE\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  long n = strtol(argv[2], NULL, 10);
  if (strcmp(argv[1], "getpid") == 0) getpid_loop(n);
  else if (strcmp(argv[1], "pages") == 0) touch_pages(n);
  else if (strcmp(argv[1], "spin") == 0) burn_for((uint64_t)n * 1000000ull);
  else if (strcmp(argv[1], "shares") == 0) shares((uint64_t)n);
  else if (strcmp(argv[1], "selfshares") == 0) self_shares((uint64_t)n);
  else if (strcmp(argv[1], "calls") == 0) calls(n);
  else if (strcmp(argv[1], "reads") == 0) reads(n);
  else if (strcmp(argv[1], "naps") == 0) naps(n);
  else if (strcmp(argv[1], "sleeps") == 0) sleeps(n);
  else if (strcmp(argv[1], "bench-flat") == 0) return bench_workload("flat", n) == 0 ? 0 : 1;
  else if (strcmp(argv[1], "bench-tree") == 0) return bench_workload("tree", n) == 0 ? 0 : 1;
  else if (strcmp(argv[1], "exit") == 0) return (int)n;
  else usage();
  return 0;
}
