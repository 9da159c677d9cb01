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
source "$(dirname "$0")/agent-load.sh"
sleep 30
before=()
addresses=()
for i in "${!pids[@]}"; do
  before+=("$(cpu_ns "${pids[$i]}")")
  addresses+=("$(cat "${dirs[$i]}/data/agent.address")")
done
t0=$(date +%s%N)
scrape_agents "$seconds" "${addresses[@]}"
t1=$(date +%s%N)
echo "| agent | CPU (one core) | peak RSS (VmHWM) |"
echo "|---|---|---|"
for i in "${!pids[@]}"; do
  after=$(cpu_ns "${pids[$i]}")
  hwm=$(awk '/VmHWM/ {print $2}' /proc/"${pids[$i]}"/status)
  awk -v n="${@:$((i + 1)):1}" -v a="${before[$i]}" -v b="$after" -v t0="$t0" -v t1="$t1" -v h="$hwm" \
    'BEGIN {printf "| %s | %.3f%% | %.1f MB |\n", n, (b - a) * 100 / (t1 - t0), h / 1024}'
done
