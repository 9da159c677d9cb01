// A C workload for DWARF unwinding tests, built by DwarfReportTests with `cc -O2 -fomit-frame-pointer`: it
// spends its time in compare(), called by libc's qsort (msort_with_tmp, recursively) from sort_rounds() and
// main(). Neither it nor Debian's libc keeps frame pointers, so only call-frame information finds the callers.
//
// Usage: QsortCompare ROUNDS   (each round sorts 100000 longs)
#include <stdlib.h>

static volatile long sink;

__attribute__((noinline)) static int compare(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  for (int i = 0; i < 20; i++) sink += i;
  return (x > y) - (x < y);
}

__attribute__((noinline)) static void sort_rounds(int rounds) {
  long *v = malloc(sizeof(long) * 100000);
  if (!v) exit(1);
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < 100000; i++) v[i] = (i * 7919L) % 100003;
    qsort(v, 100000, sizeof(long), compare);
  }
  free(v);
}

int main(int argc, char **argv) {
  sort_rounds(argc > 1 ? atoi(argv[1]) : 20);
  return 0;
}
