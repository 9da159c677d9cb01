#!/usr/bin/env bash
# The test command: sets the machine up, lints, builds and runs every test, then Sonde's kernel-facing
# checks inside QEMU on Debian's kernel (scripts/test-kernels). Arguments go to `swift test` (a filtered
# run skips the VM checks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift format lint --strict -r Sources Tests Plugins Benchmarks Package.swift
swift build --build-tests
swift test --skip-build "$@"
if (($# == 0)); then
  bash scripts/test-kernels
fi
