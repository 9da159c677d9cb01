#!/bin/sh
# The init of scripts/test-kernels' VM: mounts the kernel filesystems, runs each check Sonde's CLI must pass
# on a kernel that has kprobes, the ftrace function tracer and fentry, prints one verdict line per check
# (TK-CHECK NAME PASS|FAIL detail) on the serial console, and powers off. busybox sh and awk only.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
mount -t debugfs nodev /sys/kernel/debug 2>/dev/null
mkdir -p /tmp
echo "TK-KERNEL $(uname -r)"

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^sonde\.$1=//p"; }
only=",$(arg only),"
broken=$(arg break)
N=500

# verdict NAME OK DETAIL: OK is 0 for a pass. The broken check (TEST_KERNELS_BREAK) always fails: the
# harness proves it reports a failure.
# Each verdict also says how long its check took (software emulation is slow; the harness has a timeout).
uptime() { cut -d' ' -f1 /proc/uptime; }
since=$(uptime)
verdict() {
  if [ "$1" = "$broken" ]; then set -- "$1" 1 "deliberately broken: $3"; fi
  now=$(uptime)
  took=$(awk -v a="$since" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  since=$now
  if [ "$2" = 0 ]; then echo "TK-CHECK $1 PASS $3 (${took} s)"; else echo "TK-CHECK $1 FAIL $3 (${took} s)"; fi
}
wanted() { case $only in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
# The count of PROBE in `sonde trace count --json` output.
count_of() { grep -o "\"probe\":\"$1\",\"count\":[0-9]*" | tail -1 | sed 's/.*://'; }
# Whether $1 (a number, maybe empty) is at least $2.
at_least() { [ -n "$1" ] && [ "$1" -ge "$2" ]; }

if wanted features; then
  out=$(/bin/sonde features --json 2>&1)
  ok=1
  for f in fentry fexit kprobe tracepoint uprobe; do
    echo "$out" | grep -q "\"feature\":\"$f\",\"reason\":null,\"supported\":true" || { ok=0; missing="$missing $f"; }
  done
  if [ $ok = 1 ]; then verdict features 0 "fentry, fexit, kprobe, tracepoint, uprobe supported"
  else verdict features 1 "not supported:$missing"; fi
fi

if wanted stat; then
  out=$(/bin/sonde stat -x, -e syscalls:sys_enter_getpid -- /bin/sonde-demo getpid $N 2>&1)
  n=$(echo "$out" | awk -F, '/sys_enter_getpid/ {print $1; exit}')
  [ "$n" = "$N" ]; verdict stat $? "sonde stat counted $n of $N getpid calls"
fi

if wanted tracepoint; then
  out=$(/bin/sonde trace count tracepoint:syscalls:sys_enter_getpid --json -- /bin/sonde-demo getpid $N 2>&1)
  n=$(echo "$out" | count_of syscalls:sys_enter_getpid)
  [ "$n" = "$N" ]; verdict tracepoint $? "sys_enter_getpid counted $n of $N"
fi

if wanted uprobe; then
  out=$(/bin/sonde trace count uprobe:/bin/sonde-demo:demo_value --json -- /bin/sonde-demo calls 250 2>&1)
  n=$(echo "$out" | count_of uprobe:/bin/sonde-demo:demo_value)
  [ "$n" = 250 ]; verdict uprobe $? "demo_value counted $n of 250"
fi

if wanted fentry; then
  out=$(/bin/sonde trace count fentry:vfs_read fexit:vfs_read --json -- /bin/sonde-demo reads $N 2>&1)
  a=$(echo "$out" | count_of fentry:vfs_read)
  b=$(echo "$out" | count_of fexit:vfs_read)
  at_least "$a" $N && [ "$a" = "$b" ]; verdict fentry $? "fentry:vfs_read $a, fexit:vfs_read $b for $N reads"
fi

if wanted kprobe; then
  out=$(/bin/sonde trace count kprobe:vfs_read kretprobe:vfs_read --json -- /bin/sonde-demo reads $N 2>&1)
  a=$(echo "$out" | count_of kprobe:vfs_read)
  b=$(echo "$out" | count_of kretprobe:vfs_read)
  at_least "$a" $N && [ "$a" = "$b" ]; verdict kprobe $? "kprobe:vfs_read $a, kretprobe:vfs_read $b for $N reads"
fi

if wanted latency; then
  # A kretprobe pair and an fexit pair, each a histogram of vfs_read's latency.
  k=$(/bin/sonde trace latency --func kprobe:vfs_read --unit ns -- /bin/sonde-demo reads $N 2>&1)
  f=$(/bin/sonde trace latency fentry:vfs_read fexit:vfs_read --unit ns -- /bin/sonde-demo reads $N 2>&1)
  kb=$(echo "$k" | grep -c '|@')
  fb=$(echo "$f" | grep -c '|@')
  [ "$kb" -ge 1 ] && [ "$fb" -ge 1 ]; verdict latency $? "histogram rows: kprobe/kretprobe $kb, fentry/fexit $fb"
  [ "$kb" -ge 1 ] || echo "$k" | sed 's/^/  /'
fi

if wanted ftrace; then
  # The demo's 50 reads must show up as vfs_read lines of sonde-demo, sonde's own reads of trace_pipe must
  # not (it leaves itself out through set_ftrace_notrace_pid), and tracefs must be as it was found.
  (sleep 2; /bin/sonde-demo reads 50) &
  out=$(/bin/sonde ftrace --function vfs_read --duration 5 2>&1)
  wait
  demo=$(echo "$out" | grep -c 'sonde-demo.*vfs_read')
  own=$(echo "$out" | grep -c '^ *sonde-[0-9].*vfs_read')
  tracer=$(cat /sys/kernel/tracing/current_tracer)
  notrace=$(cat /sys/kernel/tracing/set_ftrace_notrace_pid)
  [ "$demo" -ge 50 ] && [ "$own" = 0 ] && [ "$tracer" = nop ] && [ "$notrace" = "no pid" ]
  verdict ftrace $? "$demo vfs_read lines of sonde-demo, $own of sonde itself; current_tracer back to $tracer, set_ftrace_notrace_pid '$notrace'"
  [ "$demo" -ge 50 ] || echo "$out" | head -20 | sed 's/^/  /'
fi

if wanted profile; then
  # selfshares burns CPU 5:3:2 in three functions' own bodies; frame-pointer stacks from main.
  out=$(/bin/sonde profile -F 999 --folded -- /bin/sonde-demo selfshares 1500 2>/dev/null)
  shares=$(echo "$out" | awk '
    { n = $NF; total += n; split($1, f, ";"); leaf = f[length(f)]
      if (leaf ~ /^self_(hot|warm|cool)$/) { s[leaf] += n; known += n; if ($1 ~ /main;self_shares;/) chain += n } }
    END { if (known == 0) { print "none"; exit }
          printf "%.0f %.0f %.0f %.0f", s["self_hot"] * 100 / known, s["self_warm"] * 100 / known,
                 s["self_cool"] * 100 / known, chain * 100 / known }')
  set -- $shares
  ok=1
  if [ "$1" != none ] && [ "$1" -ge 42 ] && [ "$1" -le 58 ] && [ "$2" -ge 22 ] && [ "$2" -le 38 ] \
    && [ "$3" -ge 12 ] && [ "$3" -le 28 ] && [ "$4" -ge 95 ]; then ok=0; fi
  verdict profile $ok "shares hot/warm/cool $1/$2/$3% (expect 50/30/20 ±8), $4% under main;self_shares"
fi

if wanted unwind; then
  # The in-kernel CFI unwinder (bpf_loop) on this kernel's verifier, through both BPF transports: a
  # comparator called by libc's qsort, in a program and a libc without frame pointers, must show
  # main → sort_rounds → qsort above it.
  ok=0
  detail=""
  for transport in maps ringbuf; do
    out=$(/bin/sonde profile -F 999 --transport $transport --unwind dwarf --folded -- /bin/qsort-compare 40 \
      2>/tmp/unwind.err)
    shares=$(echo "$out" | awk '
      { n = $NF; if ($1 ~ /;compare$/) { leaf += n; if ($1 ~ /;main;sort_rounds;[^;]*qsort[^;]*;/) chain += n } }
      END { if (leaf == 0) print "0 0"; else printf "%d %.0f", leaf, chain * 100 / leaf }')
    set -- $shares
    if [ "$1" -ge 50 ] && [ "$2" -ge 90 ]; then :; else ok=1; sed 's/^/  /' /tmp/unwind.err | tail -5; fi
    detail="$detail $transport: $2% of $1 comparator samples reach main through qsort;"
  done
  verdict unwind $ok "$detail"
fi

echo TK-DONE
poweroff -f
