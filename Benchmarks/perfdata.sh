#!/usr/bin/env bash
# perf.data reading speed and report time, Sonde vs perf, on the same large file (recorded by perf).
# Usage: bash Benchmarks/perfdata.sh [RUNS]. Prints a Markdown section to append to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
swift build -c release --product sonde-perfdata-bench >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# A large file: 50 kHz (one sample per 20 µs of CPU) with frame-pointer call chains for 4 s of CPU.
perf record -q -c 20000 -g -o "$dir/large.data" -- "$bin/sonde-demo" shares 4000 >/dev/null 2>&1
size=$(stat -c %s "$dir/large.data")

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
time_cmd() {
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(now)
    "$@" >/dev/null 2>&1
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
  done | median
}
perf_t=$(time_cmd perf report --stdio --no-children --sort sym -g none -i "$dir/large.data")
sonde_t=$(time_cmd "$bin/sonde" report --sort sym -i "$dir/large.data")
perf_g=$(time_cmd perf report --stdio --no-children --sort sym -g caller -i "$dir/large.data")
sonde_g=$(time_cmd "$bin/sonde" report --sort sym -g --call-graph caller -i "$dir/large.data")
parse=$("$bin/sonde-perfdata-bench" "$dir/large.data" "$runs")

echo "## perf.data reading and report time (issue 5)"
echo
echo "Machine: $(nproc) vCPU, $(uname -r); $(perf version); release build; median of $runs runs."
echo "File: perf record -c 20000 -g of \`sonde-demo shares 4000\`, $((size / 1048576)) MB."
echo
echo '```'
echo "$parse"
echo '```'
echo
echo "| report | perf report --stdio | sonde report | ratio (perf / sonde) |"
echo "|---|---|---|---|"
printf "| self, sort sym, no call graph | %.3f s | %.3f s | %.2fx |\n" "$perf_t" "$sonde_t" "$(awk -v a="$perf_t" -v b="$sonde_t" 'BEGIN {print a / b}')"
printf "| self, sort sym, caller graphs | %.3f s | %.3f s | %.2fx |\n" "$perf_g" "$sonde_g" "$(awk -v a="$perf_g" -v b="$sonde_g" 'BEGIN {print a / b}')"
echo
echo "Ratio > 1 means Sonde is faster. Reproduce: \`bash Benchmarks/perfdata.sh $runs\`."
