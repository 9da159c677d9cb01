#!/usr/bin/env bash
# The main job on the bundled demo workload: set up, build, and count the demo with `sonde stat`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
bin=$(swift build -c release --show-bin-path)
"$bin/sonde" stat -e task-clock,page-faults,context-switches,syscalls:sys_enter_getpid,cycles -- "$bin/sonde-demo" getpid 100000
