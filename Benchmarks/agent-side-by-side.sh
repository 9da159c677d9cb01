#!/usr/bin/env bash
# Two or more `sonde-agent` builds at once, so they share the machine's state: CPU (every thread's schedstat
# run time) over SECONDS after a 30 s start-up, and peak RSS (VmHWM). /metrics is scraped every 15 s and
# the stacks API read every minute, as in agent-cost.sh. Each agent also profiles the others.
# Usage: bash Benchmarks/agent-side-by-side.sh SECONDS AGENT_BINARY...
set -euo pipefail
seconds=$1
shift
pids=()
dirs=()
for binary in "$@"; do
  dir=$(mktemp -d)
  "$binary" --data "$dir/data" --listen 127.0.0.1:0 >"$dir/log" 2>&1 &
  pids+=($!)
  dirs+=("$dir")
done
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${dirs[@]}"' EXIT
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
sleep 30
before=()
for pid in "${pids[@]}"; do before+=("$(cpu_ns "$pid")"); done
t0=$(date +%s%N)
end=$(($(date +%s) + seconds))
tick=0
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 15
  tick=$((tick + 1))
  for dir in "${dirs[@]}"; do
    address=$(cat "$dir/data/agent.address")
    curl -s "http://$address/metrics" >/dev/null
    if [ $((tick % 4)) -eq 0 ]; then curl -s "http://$address/api/v1/stacks" >/dev/null; fi
  done
done
t1=$(date +%s%N)
echo "| agent | CPU (one core) | peak RSS (VmHWM) |"
echo "|---|---|---|"
for i in "${!pids[@]}"; do
  after=$(cpu_ns "${pids[$i]}")
  hwm=$(awk '/VmHWM/ {print $2}' /proc/"${pids[$i]}"/status)
  awk -v n="${@:$((i + 1)):1}" -v a="${before[$i]}" -v b="$after" -v t0="$t0" -v t1="$t1" -v h="$hwm" \
    'BEGIN {printf "| %s | %.3f%% | %.1f MB |\n", n, (b - a) * 100 / (t1 - t0), h / 1024}'
done
