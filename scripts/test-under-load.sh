#!/usr/bin/env bash
# The test suite beside a busy loop per online CPU (Debian's stress-ng): the suite's specifications must
# hold on a loaded machine, not only on a quiet one. Same arguments as scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
stress-ng --cpu "$(nproc)" --timeout 3600s --quiet &
load=$!
trap 'kill "$load" 2>/dev/null || true; wait "$load" 2>/dev/null || true' EXIT
bash scripts/test.sh "$@"
