/*
 * chown with a single mapped uid (TAG_CHOWN_NOTIFY; docs/security.md, "chown in RUN"). The kernel
 * refuses an owner that is not mapped before the union filesystem sees the call, so the plan's
 * filter sends the chown family to a listener (SCMP_ACT_NOTIFY). The child installs it and hands
 * the listener fd to the helper, which stays in the union daemon's user and mount namespaces and
 * answers each call: ids that are mapped (or -1) go on to the kernel (CONTINUE); others are
 * recorded as the entry's owner with the xattr OWNER_XATTR, which the daemon takes as a chown
 * request (a security.* name: only a holder of CAP_SYS_ADMIN over the union's user namespace may
 * set it, which the container is not by default), and the call returns 0.
 * Paths resolve as the calling process sees them: in a child chrooted into /proc/PID/root, from
 * /proc/PID/cwd or the dirfd, magic links refused; never on the host.
 * nsexec.c includes this file after its helpers (die, find, get_u32).
 */
#include <poll.h>
#include <sys/xattr.h>

#define OWNER_XATTR "security.hutch.chown"

static int notify_sock[2] = {-1, -1}; /* [0] the helper's end, [1] the child's; made before clone */
static int proc_fd = -1, self_fd = -1; /* the host's /proc and our /proc/self/fd, opened before any chroot */

/* Invariant: with a CHOWN_NOTIFY record, the socket the listener travels on exists before the clone. */
static void chown_notify_prepare(void) {
  struct record r;
  if (!find(TAG_CHOWN_NOTIFY, &r)) return;
  if (find(TAG_DETACH, &r)) die(STEP_PARSE_PLAN, EINVAL, r.index); /* a detached helper cannot supervise */
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, notify_sock) < 0) die(STEP_SECCOMP, errno, 0);
  for (int i = 0; i < 2; i++) notify_sock[i] = above_pty(notify_sock[i], STEP_SECCOMP);
}

/* Invariant (child): the listener seccomp(2) returned is the helper's; the child keeps no copy. */
static void chown_notify_send(int listener) {
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  memset(&control, 0, sizeof control);
  char byte = 'L';
  struct iovec iov = {&byte, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &listener, sizeof listener);
  if (sendmsg(notify_sock[1], &msg, 0) < 0) die(STEP_SECCOMP, errno, 0);
  close(listener);
  close(notify_sock[1]);
}

/* The listener from the child, or -1 when it ended before installing the filter. */
static int chown_notify_receive(void) {
  close(notify_sock[1]);
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  char byte;
  struct iovec iov = {&byte, 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t n;
  do n = recvmsg(notify_sock[0], &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  close(notify_sock[0]);
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (c == NULL || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* The container's id maps (first column: its ids), read once: written before it could install the filter. */
static char uid_map[4096], gid_map[4096];

static void read_map(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
  if (fd >= 0) close(fd);
  buf[n > 0 ? n : 0] = '\0';
}

/* Whether `id` (a 32-bit uid or gid, -1 = unchanged) is inside `map` (the text of an id map). */
static int id_mapped(const char *map, uint32_t id) {
  if (id == (uint32_t)-1) return 1;
  for (const char *line = map; line && *line;) {
    unsigned long inner, outer, count;
    if (sscanf(line, "%lu %lu %lu", &inner, &outer, &count) == 3 && id >= inner && id - inner < count) return 1;
    line = strchr(line, '\n');
    if (line) line++;
  }
  return 0;
}

/* Copies the NUL-terminated string at `addr` of process `pid` into buf; 0 or an errno. */
static int read_string(pid_t pid, uint64_t addr, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "%d/mem", pid);
  int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t got = 0;
  while (got < size) { /* a page at a time: the string may end just before an unmapped page */
    size_t chunk = 4096 - (size_t)((addr + got) % 4096);
    if (chunk > size - got) chunk = size - got;
    ssize_t n = pread(fd, buf + got, chunk, (off_t)(addr + got));
    if (n <= 0) { close(fd); return EFAULT; }
    if (memchr(buf + got, '\0', (size_t)n) != NULL) { close(fd); return 0; }
    got += (size_t)n;
  }
  close(fd);
  return ENAMETOOLONG;
}

/* One chown of the family, decoded: the base (cwd or a dirfd), the path ("" = the base itself). */
struct chown_call {
  int dirfd; /* AT_FDCWD or the caller's fd */
  uint64_t path; /* address in the caller, 0 for fchown */
  uint32_t uid, gid;
  int nofollow;
  int empty_ok; /* AT_EMPTY_PATH: "" names the dirfd itself */
};

static int decode(const struct seccomp_notif *req, struct chown_call *c) {
  const __u64 *a = req->data.args;
  memset(c, 0, sizeof *c);
  c->dirfd = AT_FDCWD;
  switch (req->data.nr) {
#ifdef SYS_chown
  case SYS_chown: c->path = a[0], c->uid = (uint32_t)a[1], c->gid = (uint32_t)a[2]; return 0;
  case SYS_lchown: c->path = a[0], c->uid = (uint32_t)a[1], c->gid = (uint32_t)a[2], c->nofollow = 1; return 0;
#endif
  case SYS_fchown: c->dirfd = (int)a[0], c->uid = (uint32_t)a[1], c->gid = (uint32_t)a[2]; return 0;
  case SYS_fchownat:
    c->dirfd = (int)a[0], c->path = a[1], c->uid = (uint32_t)a[2], c->gid = (uint32_t)a[3];
    c->nofollow = (a[4] & AT_SYMLINK_NOFOLLOW) != 0;
    c->empty_ok = (a[4] & AT_EMPTY_PATH) != 0;
    return 0;
  }
  return ENOSYS;
}

static struct stat own_root;              /* the root the helper chrooted into (its first caller's); else st_ino 0 */
#define GONE (-2)                         /* answer(): the call is no longer pending, nobody to answer */

/* From a process chrooted into the caller's root: walks `path` from base, sets the owner record; 0 or an errno. */
static int set_owner(int base, const char *path, int nofollow, const char *value) {
  if (fchdir(base) < 0) return errno;
  int target = base;
  if (*path) {
    struct open_how how = {.flags = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0), .resolve = RESOLVE_NO_MAGICLINKS};
    target = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
    if (target < 0) return errno;
  }
  char name[16];
  snprintf(name, sizeof name, "%d", target);
  /* Through our own /proc/self/fd/N: the entry the walk found, a symlink itself when not followed. */
  int err = fchdir(self_fd) < 0 || setxattr(name, OWNER_XATTR, value, strlen(value), 0) < 0 ? errno : 0;
  if (target != base) close(target);
  return err;
}

/* The record made by the helper itself when the caller's root is the container's (chrooted in once), else by a child chrooted into it. */
static int record_owner(int root, int base, const char *path, int nofollow, const char *value) {
  static int tried;
  struct stat st;
  /* Into the first caller's root, once (the child was not dumpable, so not openable, before its exec). */
  if (!tried++ && (fchdir(root) < 0 || chroot(".") < 0 || stat("/", &own_root) < 0)) own_root.st_ino = 0;
  if (own_root.st_ino != 0 && fstat(root, &st) == 0 && st.st_dev == own_root.st_dev && st.st_ino == own_root.st_ino)
    return set_owner(base, path, nofollow, value);
  pid_t pid = fork(); /* a process that chroot'ed (debootstrap) sees paths from its own root */
  if (pid == 0) {
    self_fd = openat(proc_fd, "self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC); /* this child's */
    _exit(self_fd < 0 || fchdir(root) < 0 || chroot(".") < 0 ? errno : set_owner(base, path, nofollow, value));
  }
  int status = 0;
  if (pid > 0) while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return pid < 0 ? errno : WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

/* Opens /proc/PID/<what> (O_PATH) through the host's /proc: the caller's root, cwd or fd N. */
static int open_proc(pid_t pid, const char *what, int n) {
  char path[64];
  if (n >= 0) snprintf(path, sizeof path, "%d/fd/%d", pid, n);
  else snprintf(path, sizeof path, "%d/%s", pid, what);
  return openat(proc_fd, path, O_PATH | O_CLOEXEC);
}

/* Answers one chown: 0 recorded, -1 let the kernel do it, GONE, else an errno for the caller. */
static int answer(int listener, const struct seccomp_notif *req) {
  struct chown_call c;
  if (decode(req, &c) != 0) return ENOSYS;
  if (id_mapped(uid_map, c.uid) && id_mapped(gid_map, c.gid)) return -1;
  static char path[4096];
  path[0] = '\0';
  int err = c.path ? read_string((pid_t)req->pid, c.path, path, sizeof path) : 0;
  if (err) return err;
  if (c.path && !path[0] && !c.empty_ok) return ENOENT;
  int root = open_proc((pid_t)req->pid, "root", -1);
  int base = c.dirfd == AT_FDCWD ? open_proc((pid_t)req->pid, "cwd", -1) : open_proc((pid_t)req->pid, "fd", c.dirfd);
  /* The id is still pending: the pid was the caller when we read its memory and opened its root. */
  uint64_t id = req->id;
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) err = GONE;
  else if (root < 0 || base < 0) err = c.dirfd == AT_FDCWD ? ESRCH : EBADF;
  char value[32];
  snprintf(value, sizeof value, "%u:%u", c.uid, c.gid);
  if (!err) err = record_owner(root, base, path, c.nofollow, value);
  if (root >= 0) close(root);
  if (base >= 0) close(base);
  return err;
}

/* Receives and answers one notification; a caller that died meanwhile is no error. */
static void handle_one(int listener) {
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  memset(&req, 0, sizeof req);
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) return;
  int err = answer(listener, &req);
  memset(&resp, 0, sizeof resp);
  resp.id = req.id;
  if (err < 0) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else resp.error = -err;
  if (err == GONE) return;
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static void on_child(int sig) { (void)sig; }

/*
 * The helper while the container runs: answers the listener until no process uses the filter,
 * waiting for `child` as wait_for does. SIGCHLD is blocked but in ppoll, so an exit wakes it.
 */
static int supervise(pid_t child) {
  int listener = chown_notify_receive();
  if (listener < 0) return wait_for(child);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", child);
  read_map(path, uid_map, sizeof uid_map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", child);
  read_map(path, gid_map, sizeof gid_map);
  proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  self_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, open_mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &open_mask);
  sigdelset(&open_mask, SIGCHLD);
  for (;;) {
    int status;
    pid_t pid = waitpid(child, &status, WNOHANG);
    if (pid == child) {
      close(listener);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    struct pollfd p = {listener, POLLIN, 0};
    if (ppoll(&p, 1, NULL, &open_mask) < 0) continue; /* EINTR: a signal, perhaps SIGCHLD */
    if (p.revents & POLLIN) handle_one(listener);
    else if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) break; /* no process uses the filter any more */
  }
  close(listener);
  sigprocmask(SIG_UNBLOCK, &chld, NULL);
  return wait_for(child);
}
