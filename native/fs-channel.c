/* The shared daemon's second channel (docs/fuse.md, "The requests of one mount on two CPUs"): a
 * thread of ours reads each mount's requests from a clone of its /dev/fuse fd (FUSE_DEV_IOC_CLONE)
 * and answers there what fs-fast.c can answer in C (lower files' GETATTR and READ), while the JS
 * thread serves another request. The rest it hands to the JS loop (fs-serve.c's hutch_fs_next),
 * which serves it as one of its own; the reply must go out on the channel the request was read
 * from (the kernel finds a request to reply to in that channel's list), so libfuse writes through
 * our io (fuse_session_custom_io), which sends a handed request's reply to the clone.
 *
 * Who reads a request: both fds wait in an epoll with EPOLLEXCLUSIVE, the JS loop's first; the
 * kernel wakes the first of them that sleeps. A request that comes while the JS thread waits goes
 * to it, as before; one that comes while it serves wakes this thread. A single reader (a tar that
 * waits for each answer) so costs nothing more; readers at once, or readahead sent while JS serves,
 * get the second CPU.
 *
 * What keeps the answers true (fs-fast.c's rules, with two threads): a request that may change the
 * file system makes its session's answers stale when either thread reads it, and again just
 * before its reply is written (our io): what JS published while it waited in the queue, or while
 * JS served it, was JS's state before the change. Every answer is sent under fs-fast.c's lock.
 * Order of locks: chan_lock, then fs-fast.c's (never the other way). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs-pages.h"

#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE _IOR(229, 0, uint32_t)
#endif

/* libfuse's own read buffer: FUSE_MAX_MAX_PAGES pages and a page for the headers (the kernel
 * refuses a read smaller than max_write and the headers, and libfuse asks max_write of that). */
#define REQUEST_BUF (257 * 4096)
#define QUEUE 64
#define THREAD_STACK (128 * 1024)

/* One per watched session, at the loop's slot for it (fs-serve.c). */
struct chan {
  int fd; /* the clone; -1: none */
  int main_fd;
  void *se;
  uint32_t seq; /* bumped as a slot is reused: an epoll event of the last user is ignored */
};

struct handed {
  int at;
  uint32_t seq;
  uint32_t len;
  char *bytes;
};

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t room = PTHREAD_COND_INITIALIZER;
static struct chan *chans;
static int nchans;
static struct handed queue[QUEUE];
static int q_head, q_len;
static _Atomic int q_waiting; /* q_len, read by the JS loop without the lock */
static int tep = -1, stop_fd = -1, handed_fd = -1;
static pthread_t thread;
static int running, stopping;
static char *request;
/* HUTCH_FS_CHANNELS=2 opens the second channel; unset or 1: the JS thread's alone. Off unless
 * asked: on a 2-CPU machine it cost more than it gave (docs/fuse.md). */
static int enabled = -1;

/* What the JS thread serves now: a handed request's reply goes to its clone. */
static int reply_to = -1, serving_fd = -1;
static void *serving_se;
static int serving_changes;

static void before_reply(int fd) {
  if (serving_changes && fd == serving_fd) {
    hutch_fs_fast_changed(serving_se);
    serving_changes = 0; /* once: the later writes of the same request (none today) change nothing more */
  }
}

static int destination(int fd) { return reply_to >= 0 && fd == serving_fd ? reply_to : fd; }

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata) {
  (void)userdata;
  before_reply(fd);
  return writev(destination(fd), iov, count);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata) {
  (void)userdata;
  return read(fd, buf, len);
}

static ssize_t io_splice_receive(int in, off_t *in_off, int out, off_t *out_off, size_t len, unsigned flags, void *u) {
  (void)u;
  return splice(in, in_off, out, out_off, len, flags);
}

static ssize_t io_splice_send(int in, off_t *in_off, int out, off_t *out_off, size_t len, unsigned flags, void *u) {
  (void)u;
  before_reply(out);
  return splice(in, in_off, destination(out), out_off, len, flags);
}

struct custom_io {
  ssize_t (*writev)(int, struct iovec *, int, void *);
  ssize_t (*read)(int, void *, size_t, void *);
  ssize_t (*splice_receive)(int, off_t *, int, off_t *, size_t, unsigned, void *);
  ssize_t (*splice_send)(int, off_t *, int, off_t *, size_t, unsigned, void *);
};
static const struct custom_io our_io = {io_writev, io_read, io_splice_receive, io_splice_send};

void hutch_fs_channel_serving(void *se, int main_fd, int clone_fd, int changes) {
  serving_se = se;
  serving_fd = main_fd;
  reply_to = clone_fd;
  serving_changes = changes;
}

static void take_lock(void) { pthread_mutex_lock(&chan_lock); }
static void give_lock(void) { pthread_mutex_unlock(&chan_lock); }

/* Hands a request to the JS loop; 0, or -1 (no memory: the request is answered EIO here). */
static int hand_over(int at, const char *mem, uint32_t len) {
  while (q_len == QUEUE && !stopping) pthread_cond_wait(&room, &chan_lock);
  if (stopping) return 0;
  char *copy = malloc(len);
  if (copy == NULL) return -1;
  memcpy(copy, mem, len);
  queue[(q_head + q_len) % QUEUE] = (struct handed){at, chans[at].seq, len, copy};
  q_len++;
  atomic_store_explicit(&q_waiting, q_len, memory_order_release);
  uint64_t one = 1;
  (void)!write(handed_fd, &one, sizeof one);
  return 0;
}

static void answer_eio(int fd, const struct fuse_in_header *in) {
  struct fuse_out_header out = {.len = sizeof out, .error = -EIO, .unique = in->unique};
  (void)!write(fd, &out, sizeof out);
}

/* One ready clone: its request read and answered, or handed over. */
static void serve_one(int at, uint32_t seq) {
  take_lock();
  if (at < 0 || at >= nchans || chans[at].fd < 0 || chans[at].seq != seq) {
    give_lock();
    return;
  }
  struct chan *c = &chans[at];
  ssize_t got;
  do got = read(c->fd, request, REQUEST_BUF);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    /* EAGAIN: the JS thread read it first. ENODEV: the mount is gone, which the JS loop sees on
     * its own fd and ends the session (closing this one): wait on it no more meanwhile. */
    if (errno != EAGAIN) epoll_ctl(tep, EPOLL_CTL_DEL, c->fd, NULL);
    give_lock();
    return;
  }
  /* Not counted for the idle watcher (fs-idle.c): its count's parity is the JS loop's wait. */
  const struct fuse_in_header *in = (const void *)request;
  if ((size_t)got >= sizeof *in && !hutch_fs_fast_second(c->se, c->fd, request, (int)got) &&
      hand_over(at, request, (uint32_t)got) != 0)
    answer_eio(c->fd, in);
  give_lock();
}

static void *serve(void *unused) {
  (void)unused;
  struct epoll_event ev[16];
  for (;;) {
    int n = epoll_wait(tep, ev, 16, -1);
    if (n < 0 && errno != EINTR) return NULL;
    for (int i = 0; i < n; i++) {
      if (ev[i].data.u64 == UINT64_MAX) return NULL; /* stop_fd: the library is going */
      serve_one((int)(uint32_t)ev[i].data.u64, (uint32_t)(ev[i].data.u64 >> 32));
    }
  }
}

/* Starts the thread once; what a failed start made is kept for the next try. */
static int start(void) {
  if (running) return 0;
  if (request == NULL) request = malloc(REQUEST_BUF);
  if (tep < 0) tep = epoll_create1(EPOLL_CLOEXEC);
  if (stop_fd < 0) {
    stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (stop_fd >= 0 && tep >= 0 && epoll_ctl(tep, EPOLL_CTL_ADD, stop_fd, &ev) != 0) {
      close(stop_fd);
      stop_fd = -1;
    }
  }
  if (request == NULL || tep < 0 || stop_fd < 0) return -1;
  pthread_attr_t attr;
  sigset_t all, old;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, THREAD_STACK);
  /* Signals stay the JS thread's (libuv's handlers, EINTR of its reads): the thread blocks all. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&thread, &attr, serve, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    errno = err;
    return -1;
  }
  pthread_setname_np(thread, "hutch-fs-second");
  running = 1;
  return 0;
}

int hutch_fs_channel_handed_fd(void) {
  if (handed_fd < 0) handed_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return handed_fd;
}

int hutch_fs_channel_open(int at, int main_fd, void *se) {
  if (enabled < 0) {
    const char *v = getenv("HUTCH_FS_CHANNELS");
    enabled = v != NULL && strcmp(v, "2") == 0;
  }
  if (!enabled || se == NULL) return 0;
  if (hutch_fs_channel_handed_fd() < 0) return -errno;
  static int (*custom_io)(void *se, const struct custom_io *io, int fd);
  if (custom_io == NULL) {
    void *lib = dlopen("libfuse3.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (lib != NULL) custom_io = (int (*)(void *, const struct custom_io *, int))dlsym(lib, "fuse_session_custom_io");
    if (custom_io == NULL) return 0; /* a libfuse before 3.14: one channel */
  }
  take_lock();
  int r = 0;
  if (at >= nchans) {
    int grown = at + 16;
    struct chan *more = realloc(chans, sizeof *chans * (size_t)grown);
    if (more == NULL) r = -ENOMEM;
    else {
      for (int i = nchans; i < grown; i++) more[i] = (struct chan){.fd = -1};
      chans = more;
      nchans = grown;
    }
  }
  int fd = -1;
  if (r == 0 && start() != 0) r = -errno;
  if (r == 0 && (fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK)) < 0) r = -errno;
  uint32_t from = (uint32_t)main_fd;
  if (r == 0 && ioctl(fd, FUSE_DEV_IOC_CLONE, &from) != 0) r = -errno;
  if (r == 0 && custom_io(se, &our_io, main_fd) != 0) r = -EINVAL;
  if (r == 0) {
    struct chan *c = &chans[at];
    *c = (struct chan){fd, main_fd, se, c->seq + 1};
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = ((uint64_t)c->seq << 32) | (uint32_t)at};
    if (epoll_ctl(tep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      r = -errno;
      c->fd = -1;
    }
  }
  if (r != 0 && fd >= 0) close(fd);
  give_lock();
  return r == 0 ? 1 : r;
}

void hutch_fs_channel_close(int at) {
  take_lock();
  if (at >= 0 && at < nchans && chans[at].fd >= 0) {
    struct chan *c = &chans[at];
    epoll_ctl(tep, EPOLL_CTL_DEL, c->fd, NULL); /* ENOENT after an ENODEV: fine */
    close(c->fd);
    c->fd = -1;
    c->seq++;
    /* Its handed requests go: the session ends, nobody waits for their replies. */
    int kept = 0;
    for (int i = 0; i < q_len; i++) {
      struct handed h = queue[(q_head + i) % QUEUE];
      if (h.at == at) free(h.bytes);
      else queue[(q_head + kept++) % QUEUE] = h;
    }
    q_len = kept;
    atomic_store_explicit(&q_waiting, q_len, memory_order_release);
    pthread_cond_signal(&room);
  }
  give_lock();
}

int hutch_fs_channel_waiting(void) { return atomic_load_explicit(&q_waiting, memory_order_acquire); }

int hutch_fs_channel_take(void *fuse_buf, int *got, int *at_out) {
  struct fuse_buf_head *buf = fuse_buf;
  take_lock();
  for (;;) {
    if (q_len == 0) {
      give_lock();
      return 0;
    }
    struct handed h = queue[q_head];
    q_head = (q_head + 1) % QUEUE;
    q_len--;
    atomic_store_explicit(&q_waiting, q_len, memory_order_release);
    pthread_cond_signal(&room);
    struct chan *c = &chans[h.at];
    if (c->fd < 0 || c->seq != h.seq) {
      free(h.bytes);
      continue;
    }
    if (buf->mem == NULL && (buf->mem = malloc(REQUEST_BUF)) == NULL) {
      answer_eio(c->fd, (const void *)h.bytes);
      free(h.bytes);
      continue;
    }
    memcpy(buf->mem, h.bytes, h.len);
    buf->size = h.len;
    buf->flags = 0;
    *got = (int)h.len;
    *at_out = h.at;
    const struct fuse_in_header *in = (const void *)h.bytes;
    hutch_fs_channel_serving(c->se, c->main_fd, c->fd, !hutch_fs_only_reads(in->opcode));
    hutch_fs_fast_session(c->se, c->main_fd);
    free(h.bytes);
    give_lock();
    return 1;
  }
}

/* As the watcher's (fs-idle.c): the thread must be gone before the library is unmapped. */
__attribute__((destructor)) static void stop_thread(void) {
  if (!running) return;
  take_lock();
  stopping = 1;
  pthread_cond_signal(&room);
  give_lock();
  uint64_t one = 1;
  (void)!write(stop_fd, &one, sizeof one);
  pthread_join(thread, NULL);
  running = 0;
}
