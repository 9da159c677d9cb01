#!/usr/bin/env bash
# The test command: sets the machine up, lints, builds and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift format lint --strict -r Sources Tests Plugins Benchmarks Package.swift
swift build --build-tests
swift test --skip-build "$@"
