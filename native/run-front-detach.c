/*
 * The hand-over of a `run -d` (run-front.h detached_run; docs/startup.md, "run -d: the CLI is its
 * own monitor"). Node records the container and launches it; before, the CLI's Node then handed
 * it to a second Node process, the monitor, which had to start too. Here a child in a
 * session of its own (a monitor outlives the caller's terminal) execs the CLI with a report pipe
 * (src/sys/detached-report.cts), and the CLI becomes the monitor itself once the record is made.
 * This process stays in the caller's place: it passes the caller's signals on until the child says
 * `go` (from then on the container is the monitor's, as it was once the CLI had said go to its
 * monitor), and exits 0 at `0` (the id is printed by then), or as the child did when it ends
 * without: its usage errors and failures are its own to print, on the caller's stdout and stderr,
 * which it holds until then.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run-front.h"

static volatile sig_atomic_t caught; /* a signal the caller sent this process, not yet handled */

static void on_signal(int sig) {
  caught = sig;
}

/* Dies of `sig` as the caller expects of a command it signalled. */
static _Noreturn void die_of(int sig) {
  signal(sig, SIG_DFL);
  raise(sig);
  _exit(128 + sig);
}

/* The child's end: its status as this process's (a signal as the shell shows one). */
static _Noreturn void exit_as(pid_t child) {
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) {
      fprintf(stderr, "hutch: run -d: cannot wait for its CLI: %s\n", strerror(errno));
      exit(125);
    }
  if (WIFSIGNALED(status)) die_of(WTERMSIG(status));
  exit(WEXITSTATUS(status));
}

_Noreturn void detached_run(const char *install, char **words) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) fall_back("no pipe for the detached run's report");
  static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: the read below sees EINTR */
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) sigaction(forwarded[i], &sa, NULL);
  pid_t child = fork();
  if (child < 0) fall_back("fork failed for the detached run");
  if (child == 0) {
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) signal(forwarded[i], SIG_DFL);
    setsid();
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC); /* -d reads nothing of the caller's stdin */
    if (null < 0 || dup2(null, 0) < 0) _exit(125);
    int fd = dup(report[1]); /* without close-on-exec: Node takes it (and reopens it with) */
    char number[16];
    snprintf(number, sizeof number, "%d", fd);
    if (fd < 0 || setenv("HUTCH_DETACHED_REPORT_FD", number, 1) != 0) _exit(125);
    /* Only the CLI speaks TLS, and this one never does: its image is in the store (--pull missing|never). */
    unsetenv("NODE_EXTRA_CA_CERTS");
    exec_node(install, words);
  }
  close(report[1]);
  char said[64];
  size_t have = 0;
  int went = 0; /* the child said go: it is the container's monitor */
  for (;;) {
    int sig = caught;
    if (sig != 0) {
      caught = 0;
      if (went) die_of(sig); /* the container is the monitor's now: only the caller's wait ends */
      kill(child, sig);      /* the CLI ends as it would under the caller's signal */
    }
    ssize_t n = read(report[0], said + have, sizeof said - 1 - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) exit_as(child); /* its end without the word: a failure it has said */
    have += (size_t)n;
    said[have] = '\0';
    if (!went && strncmp(said, "go\n", 3) == 0) {
      went = 1;
      memmove(said, said + 3, have - 2);
      have -= 3;
    }
    if (strncmp(said, "0\n", 2) == 0) exit(0);
    if (have >= sizeof said - 1) {
      fprintf(stderr, "hutch: run -d: its CLI said something else on its report pipe\n");
      exit(125);
    }
  }
}
