#!/usr/bin/env bash
# Proves the BPF paths this machine's kernel refuses (kprobe, kprobe-multi, fentry/fexit) on Debian's own
# kernel in a VM: builds an initramfs with busybox, the sonde binary and its shared libraries, boots it
# under qemu, runs `sonde features --json` inside (every attach probe is a real attach) and prints the
# JSON between VMCHECK-BEGIN/VMCHECK-END markers.
#
# usage: scripts/vm-check.sh [path/to/sonde]   (default: the debug build)
# env:   VM_KERNEL (default: newest /boot/vmlinuz-*), VM_TIMEOUT seconds (default 180), VM_ACCEL=kvm
set -euo pipefail
cd "$(dirname "$0")/.."

sonde=${1:-}
if [ -z "$sonde" ]; then
  swift build --product sonde >&2
  sonde="$(swift build --show-bin-path)/sonde"
fi
kernel=${VM_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)}
busybox=$(command -v busybox || true)
qemu=$(command -v qemu-system-x86_64 || true)
for need in "$kernel" "$busybox" "$qemu"; do
  [ -n "$need" ] && [ -e "$need" ] || { echo "vm-check: missing qemu, busybox or /boot/vmlinuz-*" >&2; exit 2; }
done

work=$(mktemp -d /tmp/sonde-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib64,etc}

# The payload and every shared library it needs, at the same absolute paths (RUNPATH stays valid).
install -D -m 755 "$sonde" "$root/bin/sonde"
ldd "$sonde" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

cp "$busybox" "$root/bin/busybox"
for tool in sh mount mkdir cat echo poweroff sleep uname; do ln -sf busybox "$root/bin/$tool"; done

cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
echo "VMCHECK-KERNEL $(uname -r)"
echo VMCHECK-BEGIN
/bin/sonde features --json
echo "VMCHECK-END status=$?"
# The tracer's kprobe and fentry paths, each beside the syscall tracepoint that counts the same calls: every
# openat(2) enters do_sys_openat2 once. Then ftrace's function tracer, and the tracefs state after it.
run() { name=$1; shift; echo "VMTRACE-BEGIN $name"; "$@"; echo "VMTRACE-END $name status=$?"; }
run kprobe /bin/sonde trace count kprobe:do_sys_openat2 kretprobe:do_sys_openat2 tracepoint:syscalls:sys_enter_openat --json -- /bin/cat /proc/version
run fentry /bin/sonde trace count fentry:do_sys_openat2 fexit:do_sys_openat2 tracepoint:syscalls:sys_enter_openat --json -- /bin/cat /proc/version
run funclatency /bin/sonde trace funclatency kprobe:do_sys_openat2 --unit ns --json -- /bin/cat /proc/version
(sleep 2; /bin/cat /proc/version > /dev/null) &
run ftrace /bin/sonde ftrace --function do_sys_openat2 --duration 4
echo "VMTRACE-TRACER $(cat /sys/kernel/tracing/current_tracer)"
poweroff -f
INIT
chmod 755 "$root/init"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# Software emulation by default: nested KVM on the CI VM hangs in the firmware. VM_ACCEL=kvm opts in.
accel=()
if [ "${VM_ACCEL:-}" = kvm ]; then accel=(-enable-kvm); fi
timeout "${VM_TIMEOUT:-180}" "$qemu" "${accel[@]}" -m 1024 -smp 1 -nographic -no-reboot -kernel "$kernel" \
  -initrd "$work/initrd.gz" -append "console=ttyS0 panic=-1 quiet" </dev/null | tr -d '\r'
