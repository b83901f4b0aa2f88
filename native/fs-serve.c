/* The shared union daemon's socket and loop calls in hutch-fs-pages.so (fuse/shared.ts; docs/fuse.md,
 * "One daemon for several containers"). Node has no SOCK_SEQPACKET, no SCM_RIGHTS and no poll(2)
 * of arbitrary fds; these are those, each one koffi call. hutch_fs_next waits for the next thing
 * to do and, when it is a session's request, reads it too: one crossing per request for the
 * wait and the read together, as fuse_session_receive_buf alone was for one session. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
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

#define MAX_WAIT 1024
static struct pollfd polled[MAX_WAIT];
static int last;

EXPORT int hutch_fs_next(const int *fds, void *const *sessions, int n, void *buf, int *got) {
  if (n <= 0 || n > MAX_WAIT) return -EINVAL;
  hutch_fs_waiting(1);
  for (int i = 0; i < n; i++) polled[i] = (struct pollfd){fds[i], POLLIN, 0};
  int ready;
  do ready = poll(polled, (nfds_t)n, -1);
  while (ready < 0 && errno == EINTR);
  if (ready < 0) {
    int err = errno;
    hutch_fs_waiting(0);
    return -err;
  }
  /* Round robin from after the last one served: a busy container does not starve the others. */
  int at = -1;
  for (int k = 1; k <= n && at < 0; k++) {
    int i = (last + k) % n;
    if (polled[i].revents != 0) at = i;
  }
  last = at;
  *got = sessions[at] != NULL ? hutch_fs_receive_plain(sessions[at], buf) : 0;
  hutch_fs_waiting(0);
  return at;
}
