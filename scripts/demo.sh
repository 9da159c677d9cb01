#!/usr/bin/env bash
# The main job on the bundled demo workload: set up, build, profile the demo with `sonde profile` (a BPF
# program sampling at 999 Hz that aggregates stacks in the kernel), print its top functions and write its
# flame graph and folded stacks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
bin=$(swift build -c release --show-bin-path)
out=${SONDE_DEMO_OUT:-demo-out}
mkdir -p "$out"
# `shares 1500` spends 1.5 s of CPU 50/30/20 in demo_hot/demo_warm/demo_cool (each calling burn).
"$bin/sonde" profile -F 999 --top 12 -- "$bin/sonde-demo" shares 1500
"$bin/sonde" profile -F 999 --folded -o "$out/demo.folded" --flamegraph "$out/demo-flame.svg" -- \
  "$bin/sonde-demo" shares 1500
echo "flame graph: $out/demo-flame.svg (open it in a browser: hover, click to zoom, Search)" >&2
