#!/usr/bin/env bash
# Recording cost, Sonde vs perf: CPU seconds the profiler itself spends (its user+sys minus the
# workload's, which both runs share) and the output size, sampling the demo workload at a high rate.
# Usage: bash Benchmarks/record.sh [RUNS]. Prints a Markdown section to append to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
work=("$bin/sonde-demo" shares 2000)

cpu() { # prints user+sys seconds of the command and everything it waited for
  /usr/bin/time -f "%U %S" -o "$dir/t" "$@" >/dev/null 2>&1
  awk '{print $1 + $2}' "$dir/t"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
measure() {
  for _ in $(seq "$runs"); do cpu "$@"; done | median
}
base=$(measure "${work[@]}")
perf_cpu=$(measure perf record -q -c 20000 -g -o "$dir/p.data" -- "${work[@]}")
perf_size=$(stat -c %s "$dir/p.data")
sonde_cpu=$(measure "$bin/sonde" record -c 20000 -g -o "$dir/s.data" -- "${work[@]}")
sonde_size=$(stat -c %s "$dir/s.data")
samples=$(perf script -i "$dir/s.data" -F event 2>/dev/null | wc -l)

echo "## Recording cost (issue 5)"
echo
echo "Machine: $(nproc) vCPU, $(uname -r); $(perf version); release build; median of $runs runs."
echo "Workload: \`sonde-demo shares 2000\` (2 s of CPU) sampled every 20 µs of cpu-clock (-c 20000, ~50 kHz)"
echo "with frame-pointer call chains (-g): about $samples samples. Profiler CPU = (profiler + workload) − workload alone."
echo
echo "| | profiler CPU | output | ratio (perf / sonde CPU) |"
echo "|---|---|---|---|"
awk -v b="$base" -v p="$perf_cpu" -v s="$sonde_cpu" -v ps="$perf_size" -v ss="$sonde_size" 'BEGIN {
  printf "| perf record | %.3f s | %.1f MB | |\n", p - b, ps / 1048576
  printf "| sonde record | %.3f s | %.1f MB | %.2fx |\n", s - b, ss / 1048576, (p - b) / (s - b)
}'
echo
echo "Workload alone: ${base} s CPU. Reproduce: \`bash Benchmarks/record.sh $runs\`."
