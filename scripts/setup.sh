#!/usr/bin/env bash
# Prepares a fresh Debian machine for Sonde: the system packages it builds against and tests with,
# and the kernel filesystems it reads. Idempotent: installs only what is missing.
set -euo pipefail

# Debian packages: libbpf-dev (the BPF loader Sonde links), linux-perf/bpftrace/bpftool (oracles in
# tests, peers in benchmarks), qemu + a Debian kernel + busybox (to prove kprobe/fentry paths on a
# kernel that has them), llvm (llvm-symbolizer oracle), binutils (nm, c++filt oracles), libc6-dbg (a real
# build-id debug file for the symbolizer to find), systemtap-sdt-dev (<sys/sdt.h>: USDT probes in the demo),
# chromium (renders the flame graph SVG in tests), stress-ng (a busy loop per CPU for scripts/test-under-load.sh),
# zlib1g-dev (gzip for pprof files), golang-go + golang-github-google-pprof-dev (Google's pprof, built below:
# the oracle that reads Sonde's pprof files), libsqlite3-dev (SQLite, the agent's store), prometheus
# (scrapes the agent's /metrics in its tests; the tests start it on loopback).
packages=(libbpf-dev linux-perf bpftrace bpftool qemu-system-x86 linux-image-amd64 busybox-static cpio
  binutils llvm libc6-dbg systemtap-sdt-dev chromium stress-ng zlib1g-dev golang-go golang-github-google-pprof-dev
  libsqlite3-dev prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  # Debian starts and enables a system-wide Prometheus on :9090 when it installs one; the tests start their
  # own on loopback, so a Prometheus this script installed is not left running.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# Google's pprof from the Go sources Debian ships (it packages the library, not the command).
if ! command -v pprof >/dev/null; then
  echo "setup: building pprof into /usr/local/bin" >&2
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="${TMPDIR:-/tmp}/sonde-go-cache" \
    go build -o /usr/local/bin/pprof github.com/google/pprof >&2
fi

# Kernel filesystems: tracefs for tracepoint ids and formats, bpffs for pinning.
if [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "setup: could not mount tracefs" >&2
fi
if ! grep -q " /sys/fs/bpf " /proc/mounts; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi
