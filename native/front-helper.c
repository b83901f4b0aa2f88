/*
 * The fronts run hutch-nsexec as src/runtime/nsexec.ts spawnHelper and
 * src/engine/launch/launch.ts runContainer do (front.h): the plan on fd 3, the sync on fd 4,
 * failures on fd 5; signals forwarded once started, a signal during the start ends it with 128+N.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"
#include "wire.h"

static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, 0};

static volatile sig_atomic_t helper_pid, started, early;

static void on_signal(int sig) {
  if (started) kill((pid_t)helper_pid, sig);
  else if (early == 0) early = sig;
}

static void catch_signals(void) {
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
  sigemptyset(&sa.sa_mask);
  for (const int *s = FORWARDED; *s; s++) sigaction(*s, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a helper that dies early closes the plan's end: fd 5 says why */
}

/* The helper's side, as Node's spawn with detached: true: own session, default signals, fds 3-5, no
   environment; argv0 "hutch-init" with --init (it shows as the container's PID 1), else its path.
   stdio[i]: the fd that becomes fd i, STDIO_NULL (/dev/null) or STDIO_INHERIT (ours). */
static _Noreturn void exec_helper(const char *helper, const char *argv0, int fds[3], const int stdio[3]) {
  int high[3];
  for (int i = 0; i < 3; i++) high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
  for (int fd = 0; fd < 3; fd++) {
    int from = stdio[fd] == STDIO_NULL ? open("/dev/null", (fd == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC) : stdio[fd];
    if (from == STDIO_INHERIT) continue;
    if (from < 0 || (from == fd ? fcntl(fd, F_SETFD, 0) : dup2(from, fd)) < 0) _exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  setsid();
  for (int i = 0; i < 3; i++) dup2(high[i], 3 + i);
  char *argv[] = {(char *)argv0, NULL}, *envp[] = {NULL};
  execve(helper, argv, envp);
  _exit(127);
}

int read_full(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

int write_full(int fd, const void *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p = (const char *)p + w, n -= (size_t)w;
  }
  return 0;
}

int wait_status(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 125;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The helper forked with the plan sent; -1 when its sockets or the fork fail. */
static pid_t start_helper(const char *helper, const char *argv0, const struct buf *plan, const int stdio[3], int *sync, int *fail) {
  int pairs[3][2];
  for (int i = 0; i < 3; i++)
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]) != 0) {
      while (i-- > 0) close(pairs[i][0]), close(pairs[i][1]);
      return -1;
    }
  pid_t pid = fork();
  if (pid == 0) exec_helper(helper, argv0, (int[3]){pairs[0][1], pairs[1][1], pairs[2][1]}, stdio);
  for (int i = 0; i < 3; i++) close(pairs[i][1]);
  if (pid < 0) {
    for (int i = 0; i < 3; i++) close(pairs[i][0]);
    return -1;
  }
  write_full(pairs[0][0], plan->p, plan->len);
  close(pairs[0][0]);
  *sync = pairs[1][0], *fail = pairs[2][0];
  return pid;
}

pid_t helper_spawn(const char *helper, const char *argv0, const struct buf *plan, int ignored, int *sync, int *fail) {
  catch_signals();
  int stdio[3];
  for (int fd = 0; fd < 3; fd++) stdio[fd] = fd < ignored ? STDIO_NULL : STDIO_INHERIT;
  pid_t pid = start_helper(helper, argv0, plan, stdio, sync, fail);
  if (pid < 0) fall_back("cannot start the helper");
  helper_pid = pid;
  return pid;
}

pid_t helper_start(const char *helper, const struct buf *plan, const int stdio[3], int *sync, int *fail) {
  return start_helper(helper, helper, plan, stdio, sync, fail);
}

int helper_early(void) {
  return early;
}

void helper_go(pid_t pid, int sync) {
  started = 1;
  if (early) kill(pid, early); /* came between the check and started: passed on, not lost */
  unsigned char go = SYNC_GO;
  write_full(sync, &go, 1);
}
