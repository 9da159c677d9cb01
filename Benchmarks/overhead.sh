#!/usr/bin/env bash
# The overhead tables of BENCHMARKS.md (issue 13), regenerated: `sonde bench overhead` on the flat workload
# at 99, 999 and 4999 Hz, then on the tree workload (262144 distinct stacks) at 999 and 4999 Hz, each with
# ROUNDS interleaved rounds of SECONDS-second windows, and the bar chart of the flat run.
# Usage: bash Benchmarks/overhead.sh [ROUNDS] [SECONDS]   (defaults 5 and 4; about 40 minutes here)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-4}
swift build -c release --product sonde >&2
swift build -c release --product sonde-demo >&2
bin=$(swift build -c release --show-bin-path)
echo "### Flat workload (one stack per thread)"
echo
echo "\`sonde bench overhead --freq 99,999,4999 --rounds $rounds --duration $seconds --workload flat --plot Benchmarks/overhead.svg\`"
echo
"$bin/sonde" bench overhead --freq 99,999,4999 --rounds "$rounds" --duration "$seconds" --workload flat \
  --plot Benchmarks/overhead.svg
echo
echo "### Tree workload (262144 distinct stacks)"
echo
echo "\`sonde bench overhead --freq 999,4999 --rounds $rounds --duration $seconds --workload tree --plot Benchmarks/overhead-tree.svg\`"
echo
"$bin/sonde" bench overhead --freq 999,4999 --rounds "$rounds" --duration "$seconds" --workload tree \
  --plot Benchmarks/overhead-tree.svg
