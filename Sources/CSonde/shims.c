#define _GNU_SOURCE
#include "CSonde.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int sonde_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
                          unsigned long flags) {
  return (int)syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags);
}

int sonde_ioctl_value(int fd, unsigned long request, unsigned long value) {
  return ioctl(fd, request, value);
}

int sonde_ioctl_pointer(int fd, unsigned long request, void *pointer) {
  return ioctl(fd, request, pointer);
}

pid_t sonde_gettid(void) { return (pid_t)syscall(__NR_gettid); }

const unsigned long SONDE_PERF_EVENT_IOC_ENABLE = PERF_EVENT_IOC_ENABLE;
const unsigned long SONDE_PERF_EVENT_IOC_DISABLE = PERF_EVENT_IOC_DISABLE;
const unsigned long SONDE_PERF_EVENT_IOC_RESET = PERF_EVENT_IOC_RESET;
const unsigned long SONDE_PERF_EVENT_IOC_REFRESH = PERF_EVENT_IOC_REFRESH;
const unsigned long SONDE_PERF_EVENT_IOC_PERIOD = PERF_EVENT_IOC_PERIOD;
const unsigned long SONDE_PERF_EVENT_IOC_SET_OUTPUT = PERF_EVENT_IOC_SET_OUTPUT;
const unsigned long SONDE_PERF_EVENT_IOC_SET_FILTER = PERF_EVENT_IOC_SET_FILTER;
const unsigned long SONDE_PERF_EVENT_IOC_ID = PERF_EVENT_IOC_ID;
const unsigned long SONDE_PERF_EVENT_IOC_SET_BPF = PERF_EVENT_IOC_SET_BPF;
const unsigned long SONDE_PERF_EVENT_IOC_PAUSE_OUTPUT = PERF_EVENT_IOC_PAUSE_OUTPUT;
const uint32_t SONDE_PERF_ATTR_SIZE = sizeof(struct perf_event_attr);

int sonde_spawn_paused(const char *path, char *const argv[], char *const envp[],
                       struct sonde_paused_child *out) {
  int go[2], err[2];
  if (pipe2(go, O_CLOEXEC) != 0) return -1;
  if (pipe2(err, O_CLOEXEC) != 0) {
    int saved = errno;
    close(go[0]);
    close(go[1]);
    errno = saved;
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    close(go[0]); close(go[1]); close(err[0]); close(err[1]);
    errno = saved;
    return -1;
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    close(go[1]);
    close(err[0]);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    char byte;
    ssize_t n;
    do { n = read(go[0], &byte, 1); } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);
    execve(path, argv, envp);
    int e = errno;
    ssize_t w = write(err[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  close(go[0]);
  close(err[1]);
  out->pid = pid;
  out->go_fd = go[1];
  out->error_fd = err[0];
  return 0;
}

int sonde_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

long sonde_bpf_syscall(int cmd, void *attr, unsigned int size) { return syscall(SYS_bpf, cmd, attr, size); }

static int stop_fd = -1;

static void on_stop_signal(int signo) {
  (void)signo;
  // write(2) is async-signal-safe: the eventfd becomes readable and every wait that watches it wakes.
  uint64_t one = 1;
  if (stop_fd >= 0) {
    ssize_t ignored = write(stop_fd, &one, sizeof one);
    (void)ignored;
  }
}

void sonde_install_stop_signals(int eventfd) {
  stop_fd = eventfd;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);
}

void sonde_unblock_termination_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGQUIT);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int sonde_limit_malloc_arenas(int arenas) { return mallopt(M_ARENA_MAX, arenas); }

int sonde_trim_heap(void) { return malloc_trim(0); }
