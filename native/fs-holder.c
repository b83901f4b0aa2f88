/* hutch-fs-holder: a container's union mount without a Node process of its own (issue 17;
 * docs/fuse.md, "One daemon for several containers"). Started like the per-container daemon,
 * as root of the container's new user namespace in a mount namespace of its own
 * (src/engine/setup/shared-union.ts), it mounts fuse.hutch-fs at MOUNTPOINT as libfuse's
 * fuse_session_mount would, hands the /dev/fuse fd to the shared union daemon (fuse/shared.ts)
 * over the connection it inherits as fd 0, says the daemon's answer on fd 1 ("ok", or why not)
 * and then holds the namespaces for the container's helper to join, as the daemon did.
 *
 * It ends when the daemon closes the connection (the daemon died or dropped the session: the
 * container's filesystem is gone and the container must end, as when its own daemon died:
 * status 1, the daemon named on stderr) or on SIGTERM/SIGINT (stop: status 0).
 *
 * Usage: hutch-fs-holder MOUNTPOINT FSNAME FLAGS   (FLAGS: a comma list of nosuid, nodev,
 * noexec, ro, suid, dev, exec, rw; "-" for none). The caller already sent the daemon the
 * session's argument line on the connection (a SOCK_SEQPACKET socket: one message each).
 *
 * Or started before its union is known (src/engine/setup/preheld-holder.ts): hutch-fs-holder -
 * reads one line on fd 0, SOCKET MOUNTPOINT FSNAME FLAGS LOG ARGS separated by tabs (LOG: a
 * file its stderr goes to from then on, appended, or empty; ARGS: the session's argument line), connects to the daemon at SOCKET itself and sends ARGS; the one who
 * sends the line holds a connection of its own meanwhile, so the daemon cannot leave before this
 * one connects. The end of fd 0 without a line: exit 0, having touched nothing. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READY 1

/* The connection to the daemon: fd 0, or the one made from the line read on fd 0. */
static int CONN = 0;

static volatile sig_atomic_t stop;
static sigset_t open_mask;

/* Waits until the connection has something (a message, or its end): 1, or 0 once stopped. */
static int wait_conn(void) {
  for (;;) {
    if (stop) return 0;
    struct pollfd p = {CONN, POLLIN, 0};
    int n = ppoll(&p, 1, NULL, &open_mask);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return 1; /* the recv that follows says what is wrong */
  }
}

static void on_stop(int sig) {
  (void)sig;
  stop = 1;
}

/* Says why the mount is not there, on stderr and on the ready fd (hutch reads that), and ends. */
static void __attribute__((noreturn)) fail(const char *mountpoint, const char *step, int err) {
  char msg[600];
  int n = snprintf(msg, sizeof msg, "hutch-fs: cannot mount %s: %s: %s\n", mountpoint, step, strerror(err));
  if (n > 0) {
    size_t len = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    (void)!write(2, msg, len);
    (void)!write(READY, msg, len);
  }
  _exit(1);
}

/* A message from the daemon. One that closed the connection with our message unread (a refusal
 * at its accept) made the kernel say ECONNRESET first, once: its last words come after. */
static ssize_t recv_said(char *buf, size_t n, int flags) {
  ssize_t got = recv(CONN, buf, n, flags);
  if (got < 0 && errno == ECONNRESET) {
    ssize_t again = recv(CONN, buf, n, flags | MSG_DONTWAIT);
    if (again > 0) return again;
    errno = ECONNRESET;
  }
  return got;
}

/* A send to the daemon failed: a daemon that refused the session at once (out of fds at its
 * accept, fuse/shared.ts) said why before it closed the connection, and that is what to say. */
static void __attribute__((noreturn)) fail_send(const char *mountpoint, const char *step, int err) {
  char said[600];
  ssize_t got = recv_said(said, sizeof said - 1, MSG_DONTWAIT);
  if (got > 10 && strncmp(said, "hutch-fs: ", 10) == 0) {
    (void)!write(2, said, (size_t)got);
    (void)!write(READY, said, (size_t)got);
    _exit(1);
  }
  fail(mountpoint, step, err);
}

/* The generic mount flags as libfuse maps them (lib/mount.c's mount_flags). */
static int parse_flags(char *list, unsigned long *flags) {
  *flags = MS_NOSUID | MS_NODEV; /* libfuse's defaults for the flags not given */
  if (strcmp(list, "-") == 0) return 0;
  for (char *save = NULL, *f = strtok_r(list, ",", &save); f != NULL; f = strtok_r(NULL, ",", &save)) {
    if (!strcmp(f, "nosuid")) *flags |= MS_NOSUID;
    else if (!strcmp(f, "suid")) *flags &= ~(unsigned long)MS_NOSUID;
    else if (!strcmp(f, "nodev")) *flags |= MS_NODEV;
    else if (!strcmp(f, "dev")) *flags &= ~(unsigned long)MS_NODEV;
    else if (!strcmp(f, "noexec")) *flags |= MS_NOEXEC;
    else if (!strcmp(f, "exec")) *flags &= ~(unsigned long)MS_NOEXEC;
    else if (!strcmp(f, "ro")) *flags |= MS_RDONLY;
    else if (!strcmp(f, "rw")) *flags &= ~(unsigned long)MS_RDONLY;
    else return -1;
  }
  return 0;
}

/* Sends the /dev/fuse fd with a one-byte message (SCM_RIGHTS). */
static int send_fd(int conn, int fd) {
  char byte = 'F';
  struct iovec iov = {&byte, 1};
  union {
    struct cmsghdr h;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t sent;
  do sent = sendmsg(conn, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  return sent == 1 ? 0 : -1;
}

/* The daemon's pid, for the message when it goes away (same pid namespace: none is made). */
static pid_t peer_pid(int conn) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  return getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

/* The waiting mode's line: read to its newline (at most 64 KiB), split at tabs into FIELDS. */
#define FIELDS 6
static int read_line(char **fields) {
  static char line[65536];
  size_t have = 0;
  for (;;) {
    ssize_t got = read(0, line + have, sizeof line - 1 - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return got < 0 ? -errno : 0;
    have += (size_t)got;
    line[have] = '\0';
    char *nl = memchr(line, '\n', have);
    if (nl == NULL && have == sizeof line - 1) return -E2BIG;
    if (nl == NULL) continue;
    *nl = '\0';
    char *p = line;
    for (int i = 0; i < FIELDS; i++) {
      fields[i] = p;
      char *tab = i < FIELDS - 1 ? strchr(p, '\t') : NULL;
      if (i < FIELDS - 1 && tab == NULL) return -EINVAL;
      if (tab != NULL) *tab = '\0', p = tab + 1;
    }
    return 1;
  }
}

static int connect_to(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return errno = ENAMETOOLONG, -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return errno = err, -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  char *fields[FIELDS];
  if (argc == 2 && strcmp(argv[1], "-") == 0) {
    int r = read_line(fields);
    if (r == 0) return 0; /* not needed: nothing touched */
    if (r < 0) fail("the union", "reading its arguments on fd 0", -r);
    close(0);
    if (fields[4][0] != '\0') { /* the monitor's log: its stderr before go was a pipe to the CLI */
      int log = open(fields[4], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
      if (log < 0) fail(fields[1], "opening its log", errno);
      dup2(log, 2);
      close(log);
    }
    CONN = connect_to(fields[0]);
    if (CONN < 0) fail(fields[1], "connecting to the union daemon", errno);
    size_t len = strlen(fields[5]);
    if (send(CONN, fields[5], len, MSG_NOSIGNAL) != (ssize_t)len) fail_send(fields[1], "sending the union's arguments", errno);
    argv = fields; /* argv[1..3]: MOUNTPOINT FSNAME FLAGS */
    argc = 4;
  }
  if (argc != 4) {
    fprintf(stderr, "usage: hutch-fs-holder MOUNTPOINT FSNAME FLAGS (connection on fd 0, ready fd 1)\n");
    return 2;
  }
  const char *mountpoint = argv[1], *fsname = argv[2];
  unsigned long flags;
  if (parse_flags(argv[3], &flags) != 0) fail(mountpoint, "the mount flags", EINVAL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Stop signals are taken only inside ppoll: none is lost between a check of `stop` and a wait. */
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  sigprocmask(SIG_BLOCK, &stops, &open_mask);
  pid_t daemon = peer_pid(CONN);

  struct stat st;
  if (stat(mountpoint, &st) != 0) fail(mountpoint, "the mountpoint", errno);
  int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse < 0) fail(mountpoint, "open /dev/fuse", errno);
  /* libfuse's fuse_mount_sys: the kernel's options; allow_other and default_permissions as
   * fuse/daemon.ts's sessionOptions ask of libfuse for the per-container daemon. */
  char data[200];
  snprintf(data, sizeof data, "fd=%d,rootmode=%o,user_id=%u,group_id=%u,allow_other,default_permissions", fuse,
           (unsigned)(st.st_mode & S_IFMT), (unsigned)getuid(), (unsigned)getgid());
  if (mount(fsname, mountpoint, "fuse.hutch-fs", flags, data) != 0) fail(mountpoint, "mount(2) of fuse.hutch-fs", errno);
  if (send_fd(CONN, fuse) != 0) fail_send(mountpoint, "handing /dev/fuse to the union daemon", errno);
  close(fuse); /* the daemon has it now; the mount keeps the connection */

  /* The daemon's answer: "ok", or why the session could not start. */
  char said[600];
  if (!wait_conn()) return 0;
  ssize_t got = recv_said(said, sizeof said - 1, 0);
  if (got <= 0) fail(mountpoint, "the union daemon ended before it took the session", got < 0 ? errno : EPIPE);
  said[got] = '\0';
  if (strncmp(said, "ok", 2) != 0) {
    (void)!write(2, said, (size_t)got);
    (void)!write(READY, said, (size_t)got);
    return 1;
  }
  (void)!write(READY, "ok\n", 3);
  close(READY);

  /* Hold until stopped or until the daemon goes away (its end of the connection closes). */
  while (wait_conn()) {
    char drop[64];
    ssize_t r = recv(CONN, drop, sizeof drop, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
      fprintf(stderr,
              "hutch-fs: the union filesystem daemon (pid %d) serving %s ended: the container's files are gone\n",
              (int)daemon, mountpoint);
      return 1;
    }
  }
  return 0;
}
