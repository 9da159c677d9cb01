#!/usr/bin/env bash
# The main job on the bundled demo workload: set up, build, record the demo with `sonde record`
# (frame-pointer call stacks at 999 Hz), print its top functions and write its flame graph.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
bin=$(swift build -c release --show-bin-path)
out=${SONDE_DEMO_OUT:-demo-out}
mkdir -p "$out"
# `shares 1500` spends 1.5 s of CPU 50/30/20 in demo_hot/demo_warm/demo_cool (each calling burn).
"$bin/sonde" record -F 999 -g -o "$out/demo.data" -- "$bin/sonde-demo" shares 1500
"$bin/sonde" report -i "$out/demo.data" --children --sort sym --limit 12
"$bin/sonde" report -i "$out/demo.data" --folded -o "$out/demo.folded"
"$bin/sonde" report -i "$out/demo.data" --flamegraph "$out/demo-flame.svg"
echo "flame graph: $out/demo-flame.svg (open it in a browser: hover, click to zoom, Search)" >&2
