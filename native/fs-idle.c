/* The idle drop of hutch-fs-pages.so (docs/fuse.md, "Memory"): the FUSE daemon's serve loop
 * (fuse/libfuse.ts) reads each request through hutch_fs_receive_buf, which counts requests, and
 * a thread of ours drops the clean read-only file pages (fs-pages.c) once the daemon has been
 * idle for a while. Serving a container's start brings ~10 MiB of the node binary back; the
 * thread gives them back with no work per request but two atomic increments (a poll(2) per
 * request through koffi cost ~2.3 us, +7% of the daemon's CPU on `tar`).
 *
 * Why dropping from this thread is safe while the JS thread runs: only pages of file mappings
 * without 'w', with no private copy (Anonymous 0) and nothing swapped, are dropped; such a page
 * always equals the file's, in the page cache, and a thread touching it during or after the
 * drop faults it back from there (a minor fault). Two things would break it: a mapping made
 * writable and written between the read of smaps and the madvise (its private copies would be
 * lost: a library with text relocations does that while dlopen relocates it), or a file mapping
 * unmapped in that window and its range reused by anonymous memory (the madvise would zero
 * that). Neither happens here: the daemon's file mappings (node, its libraries, koffi, libfuse,
 * this library) are all made before the watcher starts and stay as they are until exit; it
 * loads nothing later (the union reads files with read(2), never maps them), and V8's code is
 * anonymous memory (inode 0, never a candidate). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs-pages.h"

/* The watcher's stack: the scan's 4 KiB line buffer and a few frames. */
#define WATCH_STACK (64 * 1024)

typedef int (*receive_fn)(void *se, void *buf);
static receive_fn receive;
static int (*session_fd)(void *se);

/* Bumped as the loop enters receive (odd: waiting for a request) and as it leaves (even:
 * serving one). Relaxed: the watcher needs only to see it move, not what it orders. */
static _Atomic unsigned long requests;

EXPORT int hutch_fs_pages_init(void) {
  /* fuse/libfuse.ts loaded libfuse3 already: this finds the same copy. */
  void *lib = dlopen("libfuse3.so.3", RTLD_NOW | RTLD_NOLOAD);
  if (lib == NULL) lib = dlopen("libfuse3.so.3", RTLD_NOW);
  if (lib != NULL) receive = (receive_fn)dlsym(lib, "fuse_session_receive_buf");
  if (lib != NULL) session_fd = (int (*)(void *))dlsym(lib, "fuse_session_fd");
  return receive == NULL ? -1 : 0;
}

/* The shared daemon's loop (fs-serve.c) waits in poll(2) rather than in receive: it counts its
 * waits the same way (odd while waiting), and reads a request with libfuse's receive alone. */
void hutch_fs_waiting(int waiting) {
  (void)waiting;
  atomic_fetch_add_explicit(&requests, 1, memory_order_relaxed);
}

int hutch_fs_receive_plain(void *se, void *buf) { return receive(se, buf); }

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

long hutch_fs_spin_ns(void) {
  static long spin = -1;
  if (spin < 0) {
    const char *v = getenv("HUTCH_FS_SPIN_US");
    long us = v != NULL && *v != '\0' ? strtol(v, NULL, 10) : DEFAULT_SPIN_US;
    spin = us > 0 && us <= 100000 ? us * 1000L : 0;
  }
  return spin;
}

/* Whether the last sleep was short: requests come close together (a reader at work). */
static int close_together = 1;

/* Whether the last request was one a reader waits on (not a large READ). */
static int awaited = 1;

void hutch_fs_spin_hint(int waited_on) { awaited = waited_on; }

/* Until when the loop does not look (CLOCK_MONOTONIC ns): a busy task wanted the CPU. */
static long crowded_until;

/* Gives the CPU to a runnable task on it, if any; 1 when a busy one ran. A looking loop is a
 * runnable task: on a busy CPU a request then waits its turn behind the others, where a sleeping
 * one would be woken ahead of them (a tar under six busy loops on two CPUs: 377 s looking, 60 s
 * not). So when a busy task ran meanwhile, the loop sleeps, and does not look for CROWDED_NS. */
static int yielded_to_busy(void) {
  long before = now_ns();
  sched_yield();
  long after = now_ns();
  if (after - before < YIELD_ALONE_NS) return 0;
  crowded_until = after + CROWDED_NS;
  return 1;
}

/* Whether a CPU is free: no more runnable tasks on the machine than CPUs this process may run on
 * (the fourth field of /proc/loadavg, which counts this loop and the reader it just answered),
 * read at most every FREE_CPU_NS. When every CPU is taken, a look takes one from a task waiting
 * for it. Not known (no /proc): no look. */
static int cpu_free(long now) {
  static long checked_at = -FREE_CPU_NS;
  static int verdict, fd = -2, cpus;
  if (now - checked_at < FREE_CPU_NS) return verdict;
  checked_at = now;
  if (fd == -2) {
    fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    cpu_set_t set;
    cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  char buf[128];
  ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return verdict = 0;
  buf[n] = '\0';
  const char *p = buf; /* "0.42 1.14 1.66 2/345 6789": runnable/all */
  for (int field = 0; field < 3 && p != NULL; field++) {
    p = strchr(p, ' ');
    if (p != NULL) p++;
  }
  return verdict = p != NULL && strtol(p, NULL, 10) <= cpus;
}

int hutch_fs_look(int (*probe)(void *arg), void *arg) {
  long spin = hutch_fs_spin_ns();
  if (spin == 0 || !close_together || !awaited) return 0;
  long until = now_ns();
  if (until < crowded_until || !cpu_free(until)) return 0;
  until += spin;
  do {
    int n = probe(arg);
    if (n != 0) return n > 0 ? n : 0;
    if (yielded_to_busy()) return 0;
  } while (now_ns() < until);
  return 0;
}

long hutch_fs_sleep_starts(void) { return hutch_fs_spin_ns() > 0 ? now_ns() : 0; }

void hutch_fs_slept(long stamp) {
  if (hutch_fs_spin_ns() > 0) close_together = now_ns() - stamp < 4 * hutch_fs_spin_ns();
}

/* The standalone daemon's probe: its /dev/fuse fd, read by libfuse's blocking receive. */
static int poll_now(void *fd) {
  struct pollfd p = {.fd = *(int *)fd, .events = POLLIN};
  return poll(&p, 1, 0);
}

EXPORT int hutch_fs_receive_buf(void *se, void *buf) {
  int fd = session_fd != NULL ? session_fd(se) : -1;
  for (;;) {
    atomic_fetch_add_explicit(&requests, 1, memory_order_relaxed);
    if (fd >= 0) hutch_fs_look(poll_now, &fd);
    long stamp = hutch_fs_sleep_starts();
    int got = receive(se, buf);
    hutch_fs_slept(stamp);
    atomic_fetch_add_explicit(&requests, 1, memory_order_relaxed);
    /* A GETATTR or READ answered in C (fs-fast.c); the next request is read. */
    if (got <= 0 || fd < 0 || !hutch_fs_fast(se, fd, buf, got)) return got;
  }
}

/* Says once, on the daemon's stderr, why the idle drops stopped. */
static void stopped(long err) {
  char msg[160];
  int n = snprintf(msg, sizeof msg, "hutch-fs: warning: the idle page drop stopped: cannot drop the start-up pages: %s\n",
                   strerror((int)-err));
  if (n > 0) (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

/* The watcher, and how it is stopped: the library's destructor (dlclose by koffi when Node frees
 * its environment at exit, or exit's own) wakes it and joins it. A watcher still sleeping when the
 * library is unmapped would wake into code that is gone (SIGSEGV at the daemon's exit). */
static pthread_t watcher;
static int watching;
static int stopping;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_wake;

/* Sleeps one period, or until told to stop (then 1). */
static int rest(unsigned ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&stop_lock);
  while (!stopping && pthread_cond_timedwait(&stop_wake, &stop_lock, &until) != ETIMEDOUT) {
  }
  int stop = stopping;
  pthread_mutex_unlock(&stop_lock);
  return stop;
}

/* Drops when the counter did not move during the last period, is odd (the loop waits in
 * receive, not serving a long request) and moved since the last drop (nothing touched since). */
static void *watch(void *arg) {
  unsigned ms = (unsigned)(uintptr_t)arg;
  /* Nothing dropped yet (there is no drop at mount with a watcher): the first quiet period drops,
   * whether or not the container's start came before this thread ran. */
  unsigned long seen = atomic_load_explicit(&requests, memory_order_relaxed), dropped = ~0UL;
  while (!rest(ms)) {
    unsigned long now = atomic_load_explicit(&requests, memory_order_relaxed);
    if (now == seen && now != dropped && (now & 1)) {
      long r = hutch_pages_drop();
      if (r < 0) {
        stopped(r);
        return NULL;
      }
      dropped = now;
    }
    seen = now;
  }
  return NULL;
}

EXPORT int hutch_fs_idle_watch(unsigned ms) {
  pthread_attr_t attr;
  pthread_condattr_t clock;
  sigset_t all, old;
  if (ms == 0 || watching) return 0;
  pthread_condattr_init(&clock);
  pthread_condattr_setclock(&clock, CLOCK_MONOTONIC);
  pthread_cond_init(&stop_wake, &clock);
  pthread_condattr_destroy(&clock);
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, WATCH_STACK);
  /* Signals stay the JS thread's (libuv's handlers, EINTR of its read): the thread blocks all. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&watcher, &attr, watch, (void *)(uintptr_t)ms);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  watching = err == 0;
  return err;
}

__attribute__((destructor)) static void stop_watch(void) {
  if (!watching) return;
  pthread_mutex_lock(&stop_lock);
  stopping = 1;
  pthread_cond_signal(&stop_wake);
  pthread_mutex_unlock(&stop_lock);
  pthread_join(watcher, NULL); /* at most one drop in progress (a few ms) */
  watching = 0;
}
