#!/usr/bin/env bash
# What `sonde agent` costs in its steady state: CPU (every thread's schedstat run time) and peak RSS (VmHWM)
# of the release agent at its defaults (19 Hz per CPU, 10 s windows), over SECONDS (default 600) after a
# 30 s start-up that is left out (kallsyms, BPF load, the first tables). Prometheus's habit is imitated:
# /metrics is scraped every 15 s, and the UI's stacks API is read once a minute.
# Usage: bash Benchmarks/agent-cost.sh [SECONDS]. Prints a Markdown section for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
swift build -c release --product sonde-agent >&2
bin=$(swift build -c release --show-bin-path)
dir=$(mktemp -d)
"$bin/sonde-agent" --data "$dir/data" --listen 127.0.0.1:0 >"$dir/log" 2>&1 &
agent=$!
trap 'kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; rm -rf "$dir"' EXIT

source Benchmarks/agent-load.sh
sleep 30
address=$(cat "$dir/data/agent.address")
a=$(cpu_ns "$agent")
t0=$(date +%s%N)
scrape_agents "$seconds" "$address"
b=$(cpu_ns "$agent")
t1=$(date +%s%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/"$agent"/status)
rss=$(awk '/VmRSS/ {print $2}' /proc/"$agent"/status)
samples=$(curl -s "http://$address/metrics" | awk '/^sonde_agent_samples_total / {print $2}')
windows=$(curl -s "http://$address/metrics" | awk '/^sonde_agent_windows_total / {print $2}')
store=$(curl -s "http://$address/metrics" | awk '/^sonde_agent_store_bytes / {printf "%.1f", $2 / 1048576}')

echo "## sonde agent's cost (issue 16)"
echo
echo "Machine: $(nproc) vCPU, $(uname -r); release build; defaults (19 Hz per CPU, 10 s windows);"
echo "$seconds s after a 30 s start-up; /metrics scraped every 15 s, /api/v1/stacks read every minute."
echo "Reproduce: \`bash Benchmarks/agent-cost.sh $seconds\`."
echo
echo "| agent CPU (one core) | peak RSS (VmHWM) | RSS at the end | samples stored | windows | store on disk |"
echo "|---|---|---|---|---|---|"
awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" -v rss="$rss" -v s="$samples" -v w="$windows" \
  -v st="$store" 'BEGIN {printf "| %.3f%% | %.1f MB | %.1f MB | %s | %s | %s MB |\n", (b - a) * 100 / (t1 - t0),
  hwm / 1024, rss / 1024, s, w, st}'
