#!/usr/bin/env bash
# Steady-state recording cost, sonde record vs perf record, system-wide with a busy thread per CPU.
# Usage: bash Benchmarks/record-steady.sh [ROUNDS] [SECONDS]. Each run records `-a` for SECONDS (default 12);
# the recorder's CPU time (every thread's /proc/PID/task/TID/schedstat run time, in ns) is read 2 s after the
# start and 2 s before the end, so start-up (synthesizing /proc) and the final flush are left out. Runs are
# interleaved (perf, Sonde, Sonde, perf, …) over four configurations: 999 and 4999 Hz, frame-pointer (-g) and
# DWARF call graphs. Prints a Markdown section for BENCHMARKS.md: median CPU share of one core, samples,
# lost samples and file size, and whether perf report reads Sonde's file with the same sample count.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-12}
swift build -c release --product sonde >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
stress-ng --cpu "$(nproc)" --timeout 3600s --quiet &
load=$!
trap 'kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true; rm -rf "$dir"' EXIT

# Nanoseconds on CPU of every thread of process $1.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
# The pid of the recorder itself: perf is the launched process; sonde is too.
measure() {
  local tool=$1 out=$2
  shift 2
  # Start each run with no writeback of an earlier run's file in flight: it would load this one's writes.
  sync
  sleep 1
  "$@" >/dev/null 2>"$out.log" &
  local pid=$!
  sleep 2
  local a t0
  a=$(cpu_ns "$pid")
  t0=$(date +%s%N)
  sleep $((seconds - 4))
  local b t1
  b=$(cpu_ns "$pid")
  t1=$(date +%s%N)
  wait "$pid" || true
  awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.4f\n", (b - a) * 100 / (t1 - t0)}'
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# What perf reads in a file: its SAMPLE records and the samples LOST records count.
samples_of() { perf report --stats -i "$1" 2>/dev/null | awk '/SAMPLE events:/ {print $3; exit}'; }
lost_of() { perf report --stats -i "$1" 2>/dev/null | awk '/LOST events:/ {n = $3} END {print n + 0}'; }

configs=("999|-g" "4999|-g" "999|--call-graph dwarf" "4999|--call-graph dwarf")
# CONFIGS="999|-g;4999|-g" runs a subset.
if [ -n "${CONFIGS:-}" ]; then IFS=';' read -r -a configs <<<"$CONFIGS"; fi
for round in $(seq "$rounds"); do
  for c in "${configs[@]}"; do
    freq=${c%%|*}
    graph=${c#*|}
    key="$freq-${graph// /_}"
    order=(perf sonde)
    if [ $((round % 2)) -eq 0 ]; then order=(sonde perf); fi
    for tool in "${order[@]}"; do
      file="$dir/$tool.$key.$round.data"
      if [ "$tool" = perf ]; then
        measure perf "$file" perf record -q -F "$freq" $graph -a -o "$file" -- sleep "$seconds" >>"$dir/cpu.perf.$key"
      else
        measure sonde "$file" "$bin/sonde" record -F "$freq" $graph -a -o "$file" -- sleep "$seconds" >>"$dir/cpu.sonde.$key"
      fi
      echo "$(samples_of "$file") $(lost_of "$file") $(stat -c %s "$file")" >>"$dir/stats.$tool.$key"
      rm -f "$file"
    done
    rm -f "$dir"/*."$key"."$round".data
  done
done

echo "## Steady-state recording CPU, sonde record vs perf record (issue 17)"
echo
echo "Machine: $(nproc) vCPU, $(uname -r); $(perf version); release build; \`stress-ng --cpu $(nproc)\` beside;"
echo "\`record -a\` for $seconds s, CPU of the recorder's threads (schedstat) from 2 s to $((seconds - 2)) s; medians of $rounds interleaved rounds."
echo
echo "| configuration | perf record CPU | sonde record CPU | perf / Sonde | samples perf / Sonde | LOST records perf / Sonde | MB perf / Sonde |"
echo "|---|---|---|---|---|---|---|"
for c in "${configs[@]}"; do
  freq=${c%%|*}
  graph=${c#*|}
  key="$freq-${graph// /_}"
  p=$(median <"$dir/cpu.perf.$key")
  s=$(median <"$dir/cpu.sonde.$key")
  ps=$(awk '{print $1}' "$dir/stats.perf.$key" | median)
  ss=$(awk '{print $1}' "$dir/stats.sonde.$key" | median)
  pl=$(awk '{print ($2 == "" ? 0 : $2)}' "$dir/stats.perf.$key" | median)
  sl=$(awk '{print ($2 == "" ? 0 : $2)}' "$dir/stats.sonde.$key" | median)
  pm=$(awk '{print $3 / 1048576}' "$dir/stats.perf.$key" | median)
  sm=$(awk '{print $3 / 1048576}' "$dir/stats.sonde.$key" | median)
  printf "| -F %s %s | %.2f%% | %.2f%% | %.2f | %d / %d | %d / %d | %.1f / %.1f |\n" "$freq" "$graph" "$p" "$s" \
    "$(awk -v a="$p" -v b="$s" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$ps" "$ss" "$pl" "$sl" "$pm" "$sm"
done
echo
echo "Samples and LOST records are what \`perf report --stats\` reads in each tool's file. Reproduce: \`bash Benchmarks/record-steady.sh $rounds $seconds\`."
