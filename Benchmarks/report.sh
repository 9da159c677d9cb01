#!/usr/bin/env bash
# sonde report/script vs perf report/script on one large system-wide file, interleaved runs.
# Usage: bash Benchmarks/report.sh [RUNS] [FILE]. Without FILE it records one: perf record -F 4999 -g -a for
# 20 s while a busy thread runs on each CPU (the demo's shares mode and stress-ng's every-method CPU worker).
# Prints a Markdown section for BENCHMARKS.md: median wall time and median peak RSS per mode, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
file=${2:-}
origin="\`perf record -F 4999 -g -a\` for 20 s with a busy thread per CPU"
if [ -n "$file" ]; then origin="$(basename "$file") (given)"; fi
if [ -z "$file" ]; then
  file="$dir/big.data"
  stress-ng --cpu 1 --cpu-method all -t 23 >/dev/null 2>&1 &
  "$bin/sonde-demo" shares 25000 >/dev/null &
  sleep 1
  perf record -q -F 4999 -g -a -o "$file" -- sleep 20 >/dev/null 2>&1
  wait
fi
nsamples=$(perf script -i "$file" -F period 2>/dev/null | wc -l)
size=$(stat -c %s "$file")

# One measurement: "seconds peak_rss_kb".
measure() { /usr/bin/time -f "%e %M" -o "$dir/t" "$@" >/dev/null 2>&1 || true; cat "$dir/t"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

modes=(self caller children folded script)
declare -A perf_cmd sonde_cmd label
label[self]="self, sort sym, no call graph"
perf_cmd[self]="perf report --stdio --no-children -g none --sort sym -i $file"
sonde_cmd[self]="$bin/sonde report --no-children --sort sym -i $file"
label[caller]="self, caller graphs"
perf_cmd[caller]="perf report --stdio --no-children -g caller -i $file"
sonde_cmd[caller]="$bin/sonde report --no-children --call-graph caller -i $file"
label[children]="default: children, caller graphs"
perf_cmd[children]="perf report --stdio -i $file"
sonde_cmd[children]="$bin/sonde report --children --call-graph caller -i $file"
label[folded]="sonde report --folded vs perf script"
perf_cmd[folded]="perf script -i $file"
sonde_cmd[folded]="$bin/sonde report --folded -i $file"
label[script]="sonde script vs perf script"
perf_cmd[script]="perf script -i $file"
sonde_cmd[script]="$bin/sonde script -i $file"

# Interleaved: every round runs every mode, perf and Sonde alternating which goes first.
for round in $(seq "$runs"); do
  for m in "${modes[@]}"; do
    if [ $((round % 2)) -eq 0 ]; then
      measure ${perf_cmd[$m]} >>"$dir/time.perf.$m"
      measure ${sonde_cmd[$m]} >>"$dir/time.sonde.$m"
    else
      measure ${sonde_cmd[$m]} >>"$dir/time.sonde.$m"
      measure ${perf_cmd[$m]} >>"$dir/time.perf.$m"
    fi
  done
done

perf script -i "$file" >"$dir/perf.script" 2>/dev/null
"$bin/sonde" script -i "$file" >"$dir/sonde.script"
differing=$(diff "$dir/perf.script" "$dir/sonde.script" | grep -c '^[<>]' || true)
lines=$(wc -l <"$dir/perf.script")

echo "## sonde report and script vs perf on a large system-wide file (issue 10)"
echo
echo "Machine: $(nproc) vCPU, $(uname -r); $(perf version); release build; medians of $runs interleaved runs."
echo "File: $origin, $((size / 1048576)) MB, $nsamples samples."
echo
echo "| mode | perf | sonde | perf time / Sonde time | peak RSS perf / Sonde |"
echo "|---|---|---|---|---|"
for m in "${modes[@]}"; do
  pt=$(awk '{print $1}' "$dir/time.perf.$m" | median)
  st=$(awk '{print $1}' "$dir/time.sonde.$m" | median)
  pr=$(awk '{print $2}' "$dir/time.perf.$m" | median)
  sr=$(awk '{print $2}' "$dir/time.sonde.$m" | median)
  printf "| %s | %.2f s | %.2f s | %.2f | %d / %d MB |\n" "${label[$m]}" "$pt" "$st" \
    "$(awk -v a="$pt" -v b="$st" 'BEGIN {print (b > 0 ? a / b : 0)}')" $((${pr%.*} / 1024)) $((${sr%.*} / 1024))
done
echo
echo "\`sonde script\` vs \`perf script\`: $differing of $lines lines differ."
echo
echo "Reproduce: \`bash Benchmarks/report.sh $runs\` (or pass a perf.data file as the second argument)."
