// The reference workload of `sonde bench overhead`: one busy thread per online CPU for a fixed wall-clock
// time, each counting the work units it finishes, so a profiler's cost shows as units not done.
//
// Two shapes of the same work:
//   flat  every sample lands in one stack (bench_flat_unit under the thread's start): the best case for
//         in-kernel aggregation, one key per thread;
//   tree  each unit walks a random path down a call tree of BENCH_TREE_FANOUT distinct functions per level,
//         BENCH_TREE_DEPTH levels deep, and works in the leaf: 8^6 = 262144 distinct stacks, so nearly every
//         sample is a new key and aggregation saves little (the case for a ringbuf).
// The demo is built with frame pointers and no inlining, so frame-pointer unwinding sees every level.
#define _GNU_SOURCE
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_TREE_DEPTH 6
#define BENCH_TREE_FANOUT 8
/// Iterations of the multiply-add chain per unit of work (a few microseconds).
#define BENCH_UNIT_ITERATIONS 4000

static atomic_int bench_stop;

struct bench_thread {
  pthread_t thread;
  uint64_t units;
  uint64_t state;
  int tree;
};

/// The work itself: a multiply-add chain with no memory traffic and no system call.
__attribute__((noinline)) static uint64_t bench_work(uint64_t x) {
  for (int i = 0; i < BENCH_UNIT_ITERATIONS; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

__attribute__((noinline)) static uint64_t bench_flat_unit(uint64_t x) { return bench_work(x) ^ 1; }

/// xorshift64: the random path of each tree walk.
static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

typedef uint64_t (*tree_node)(int depth, uint64_t *state);
static const tree_node tree_nodes[BENCH_TREE_FANOUT];

/// Descends one level: picks the next node at random, or works at the leaf. Inlined into every node (the
/// demo builds with -fno-inline, which always_inline overrides), so each node is its own frame; the result
/// is combined after the call so the compiler cannot turn it into a tail call (which would drop the frame).
__attribute__((always_inline)) static inline uint64_t descend(int depth, uint64_t *state, uint64_t salt) {
  if (depth == 0) return bench_work(*state) + salt;
  uint64_t r = next_random(state);
  return tree_nodes[r % BENCH_TREE_FANOUT](depth - 1, state) ^ salt;
}

#define TREE_NODE(n) \
  __attribute__((noinline)) static uint64_t tree_node_##n(int depth, uint64_t *state) { return descend(depth, state, n); }
TREE_NODE(0)
TREE_NODE(1)
TREE_NODE(2)
TREE_NODE(3)
TREE_NODE(4)
TREE_NODE(5)
TREE_NODE(6)
TREE_NODE(7)
static const tree_node tree_nodes[BENCH_TREE_FANOUT] = {
    tree_node_0, tree_node_1, tree_node_2, tree_node_3, tree_node_4, tree_node_5, tree_node_6, tree_node_7};

static void *bench_thread_main(void *arg) {
  struct bench_thread *t = arg;
  uint64_t sink = t->state;
  while (!atomic_load_explicit(&bench_stop, memory_order_relaxed)) {
    sink += t->tree ? tree_nodes[next_random(&t->state) % BENCH_TREE_FANOUT](BENCH_TREE_DEPTH - 1, &t->state)
                    : bench_flat_unit(sink);
    t->units++;
  }
  t->state ^= sink;  // keeps the work observable
  return NULL;
}

int bench_workload(const char *shape, long milliseconds) {
  int tree = strcmp(shape, "tree") == 0;
  if (!tree && strcmp(shape, "flat") != 0) return -1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  if (cpus > 1024) cpus = 1024;
  static struct bench_thread threads[1024];
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < cpus; i++) {
    threads[i].state = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    threads[i].tree = tree;
    if (pthread_create(&threads[i].thread, NULL, bench_thread_main, &threads[i]) != 0) return -1;
  }
  struct timespec nap = {milliseconds / 1000, (milliseconds % 1000) * 1000000};
  while (nanosleep(&nap, &nap) != 0) {}
  atomic_store(&bench_stop, 1);
  uint64_t units = 0;
  for (long i = 0; i < cpus; i++) {
    pthread_join(threads[i].thread, NULL);
    units += threads[i].units;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
  printf("units %llu\nthreads %ld\nseconds %.6f\n", (unsigned long long)units, cpus, seconds);
  return 0;
}
