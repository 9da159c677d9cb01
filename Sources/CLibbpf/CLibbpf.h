// libbpf (Debian libbpf-dev) as a Swift module: the loader, low-level bpf(2) wrappers and BTF access.
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
