/* The shared union daemon's socket and loop calls in hutch-fs-pages.so (fuse/shared.ts; docs/fuse.md,
 * "One daemon for several containers"). Node has no SOCK_SEQPACKET, no SCM_RIGHTS and no wait on
 * arbitrary fds (epoll here); these are those, each one koffi call. hutch_fs_next waits for the
 * next thing to do and, when it is a session's request, reads it too: one crossing per request for the
 * wait and the read together, as fuse_session_receive_buf alone was for one session. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fs-pages.h"

EXPORT int hutch_fs_listen(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -ENAMETOOLONG;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

EXPORT int hutch_fs_accept(int listener) {
  int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return fd < 0 ? -errno : fd;
}

EXPORT long hutch_fs_recv(int conn, void *buf, size_t len, int *fd_out) {
  union {
    struct cmsghdr h;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  struct iovec iov = {buf, len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
  *fd_out = -1;
  ssize_t got = recvmsg(conn, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (got < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
      memcpy(fd_out, CMSG_DATA(c), sizeof(int));
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    if (*fd_out >= 0) close(*fd_out);
    *fd_out = -1;
    return -EMSGSIZE;
  }
  return got;
}

EXPORT long hutch_fs_send(int conn, const void *buf, size_t len) {
  ssize_t sent = send(conn, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  return sent < 0 ? -errno : sent;
}

/* The loop's wait: one epoll instance, each fd registered once (hutch_fs_watch) under a slot, so
 * a request costs the same however many sessions the daemon serves (a poll(2) of every fd per
 * request cost the kernel one wait-queue entry added and removed per fd: measured in docs/fuse.md,
 * "(issue 17, twelfth session)"). Up to BATCH ready fds are taken per epoll_wait and served one per
 * call, in turn: a busy session gets one request per turn, the others theirs (round robin; epoll
 * itself puts a level-triggered fd still ready back at the end of its ready list). */
#define BATCH 64
static int ep = -1;
static struct epoll_event ready[BATCH];
static int have, next_at;
struct slot {
  int fd; /* -1: free */
  void *session;
};
static struct slot *slots;
static int nslots;
#define HANDED (UINT32_MAX - 1)
static int handed_watched;

EXPORT int hutch_fs_watch(int fd, void *const *session) {
  if (ep < 0 && (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) return -errno;
  int at = 0;
  while (at < nslots && slots[at].fd >= 0) at++;
  if (at == nslots) {
    int grown = nslots == 0 ? 16 : nslots * 2;
    struct slot *more = realloc(slots, sizeof *slots * (size_t)grown);
    if (more == NULL) return -ENOMEM;
    for (int i = nslots; i < grown; i++) more[i] = (struct slot){-1, NULL};
    slots = more;
    nslots = grown;
  }
  /* Non-blocking: a request withdrawn between the wait and the read (its caller killed before it
   * was sent) reads EAGAIN instead of blocking every other session's loop. */
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
  void *se = session != NULL ? *session : NULL;
  /* EPOLLEXCLUSIVE: a request wakes this loop if it sleeps, else the second channel's thread. */
  struct epoll_event ev = {.events = EPOLLIN | (se != NULL ? EPOLLEXCLUSIVE : 0), .data.u32 = (uint32_t)at};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return -errno;
  slots[at] = (struct slot){fd, se};
  /* The second channel, where asked (fs-channel.c); its handed requests wake this loop through an
   * eventfd, registered once. Without it (not asked, an old libfuse, no fds left) this loop serves
   * the mount alone, as before. */
  if (se != NULL && hutch_fs_channel_open(at, fd, se) > 0 && !handed_watched) {
    struct epoll_event h = {.events = EPOLLIN, .data.u32 = HANDED};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, hutch_fs_channel_handed_fd(), &h) == 0) handed_watched = 1;
    else hutch_fs_channel_close(at);
  }
  return at;
}

EXPORT int hutch_fs_unwatch(int at) {
  if (at < 0 || at >= nslots || slots[at].fd < 0) return -EINVAL;
  int r = epoll_ctl(ep, EPOLL_CTL_DEL, slots[at].fd, NULL) == 0 ? 0 : -errno;
  hutch_fs_channel_close(at);
  if (slots[at].session != NULL) hutch_fs_fast_end(slots[at].session);
  slots[at] = (struct slot){-1, NULL};
  /* Not served from this batch any more (the slot may be reused before the batch is done). */
  for (int i = next_at; i < have; i++)
    if (ready[i].data.u32 == (uint32_t)at) ready[i].data.u32 = UINT32_MAX;
  return r;
}

EXPORT long hutch_fs_fds_left(void) {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -errno;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -errno;
  long open = -1; /* not the one readdir reads */
  while (readdir(d) != NULL) open++;
  closedir(d);
  open -= 2; /* . and .. */
  return (long)lim.rlim_cur - open;
}

/* Before it sleeps, the loop may look for the next request a while (hutch_fs_look, opt-in): a
 * reader reading file after file (tar) sends it within tens of microseconds, and a sleep in
 * epoll_wait and its wake-up cost more than that on a virtual machine (docs/fuse.md, "The look
 * before the sleep"). */
static int epoll_now(void *unused) {
  (void)unused;
  return epoll_wait(ep, ready, BATCH, 0);
}

EXPORT int hutch_fs_next(void *buf, int *got) {
  hutch_fs_waiting(1);
  for (;;) {
    /* Requests the second channel handed over first: one that changes a file waits there already. */
    int handed_at;
    if (hutch_fs_channel_waiting() > 0 && hutch_fs_channel_take(buf, got, &handed_at)) {
      hutch_fs_waiting(0);
      return handed_at;
    }
    if (next_at == have) {
      int n = hutch_fs_look(epoll_now, NULL);
      if (n == 0) {
        long stamp = hutch_fs_sleep_starts();
        do n = epoll_wait(ep, ready, BATCH, -1);
        while (n < 0 && errno == EINTR);
        hutch_fs_slept(stamp);
      }
      if (n < 0) {
        int err = errno;
        hutch_fs_waiting(0);
        return -err;
      }
      have = n;
      next_at = 0;
    }
    uint32_t u = ready[next_at++].data.u32;
    if (u == UINT32_MAX) continue;
    if (u == HANDED) {
      uint64_t n;
      (void)!read(hutch_fs_channel_handed_fd(), &n, sizeof n);
      continue;
    }
    int at = (int)u;
    void *se = slots[at].session;
    *got = se != NULL ? hutch_fs_receive_plain(se, buf) : 0;
    /* A GETATTR or READ answered in C (fs-fast.c): counted as served, and the wait goes on. */
    if (*got > 0 && hutch_fs_fast(se, slots[at].fd, buf, *got)) {
      hutch_fs_waiting(0);
      hutch_fs_waiting(1);
      continue;
    }
    if (se == NULL) {
      hutch_fs_fast_session(NULL, -1);
      hutch_fs_channel_serving(NULL, -1, -1, 0);
    } else {
      const struct fuse_in_header *in = request_in(buf, *got);
      hutch_fs_channel_serving(se, slots[at].fd, -1, in != NULL && !hutch_fs_only_reads(in->opcode));
    }
    hutch_fs_waiting(0);
    return at;
  }
}
