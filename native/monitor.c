/* hutch-monitor: what the Node monitor of `run -d`/`create`/`start` (src/engine/monitor) becomes
 * by execve, same pid, once its container runs: conmon's role at ~1 MB resident instead of a Node
 * process. The container's helper, the union filesystem's holder, slirp4netns and the forwarder
 * stay its children, and every fd the Node monitor held stays open (slirp4netns' --exit-fd, the
 * forwarder's control pipe end with them). While the container runs it
 *  - copies the container's stdout and stderr pipes (or its terminal) into the log (monitor-log.c);
 *  - answers `start` on the control socket (the container already runs: ok);
 *  - passes what `hutch attach` sends to attach.sock on to the container's stdin (`-i`), never
 *    waiting on it (a slow reader holds the senders back, not the loop);
 *  - reaps: the helper's exit is the container's; the union daemon's end kills the container.
 * Then it stops the set-up's processes and execs Node again (monitor-end.c).
 *
 * Usage (src/engine/monitor/handover.ts): hutch-monitor KEY=VALUE... -- NODE-COMMAND...
 * Single-threaded: one poll loop, SIGCHLD through a signalfd. Errors go to stderr (monitor.log). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "monitor.h"

#define MAX_CLIENTS 16
/* What attach clients sent that the container's stdin has not taken yet: once it holds this
 * much, the attach sockets are not read (their senders wait) until the container reads more. */
#define MAX_INPUT (64 << 10)

static struct handover h = { -1, -1, -1, -1, -1, 0, 0, 0, 0, NULL, NULL, NULL };
static struct stream out = { .fd = -1, .name = "stdout" }, err = { .fd = -1, .name = "stderr" };
static int controls[MAX_CLIENTS], attaches[MAX_CLIENTS];
static char *input;
static size_t input_len;
static int exit_code = -1;
static char failure[200];

static int parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) return h.finish = &argv[i + 1], h.finish[0] != NULL;
    char *eq = strchr(argv[i], '=');
    if (eq == NULL) return 0;
    *eq = '\0';
    const char *k = argv[i], *v = eq + 1;
    long n = strtol(v, NULL, 10);
    if (!strcmp(k, "log")) h.log = (int)n;
    else if (!strcmp(k, "out")) out.fd = (int)n;
    else if (!strcmp(k, "err")) err.fd = (int)n;
    else if (!strcmp(k, "control")) h.control = (int)n;
    else if (!strcmp(k, "attach")) h.attach = (int)n;
    else if (!strcmp(k, "stdin")) h.stdin_fd = (int)n;
    else if (!strcmp(k, "slave")) h.slave = (int)n;
    else if (!strcmp(k, "helper")) h.helper = (pid_t)n;
    else if (!strcmp(k, "container")) h.container = (pid_t)n;
    else if (!strcmp(k, "holder")) h.holder = (pid_t)n;
    else if (!strcmp(k, "holder-helper")) h.holder_helper = (pid_t)n;
    else if (!strcmp(k, "attach-path")) h.attach_path = v;
    else if (!strcmp(k, "removing")) h.removing = v;
    else return 0;
  }
  return 0;
}

static void reap(void) {
  int status;
  for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (pid == h.helper) exit_code = code;
    if (pid != h.holder_helper || failure[0] != '\0') continue;
    snprintf(failure, sizeof failure, "the union filesystem daemon or its holder (pid %d) ended with status %d", (int)h.holder,
             code);
    if (exit_code >= 0) continue;
    fprintf(stderr, "hutch: %s: the container's files fail with ENOTCONN; ending it\n", failure);
    kill(h.container, SIGKILL);
  }
}

static void add_client(int *list, int listener) {
  int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return (void)(errno == EAGAIN || errno == EINTR || (log_error("accept"), 0));
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (list[i] < 0) return (void)(list[i] = fd);
  close(fd); /* more clients than anyone runs at once */
}

/* One request line, one JSON line back (as the Node monitor's listen()). */
static void answer(int *slot) {
  char buf[256];
  ssize_t n = read(*slot, buf, sizeof buf - 1);
  if (n < 0 && errno == EAGAIN) return;
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn(buf, " \t\r\n")] = '\0';
  const char *reply = strcmp(buf, "start") == 0
      ? "{\"ok\":true}\n"
      : "{\"ok\":false,\"error\":{\"code\":\"BUG\",\"message\":\"unknown monitor request\",\"exitCode\":125}}\n";
  if (n > 0 && write(*slot, reply, strlen(reply)) < 0) log_error("answer on the control socket");
  close(*slot);
  *slot = -1;
}

/* What `hutch attach` typed, queued for the container's stdin (dropped once that is closed); read
 * only while the queue has room (serve), at most that much. */
static void take_input(int *slot) {
  char buf[MAX_INPUT];
  ssize_t n = read(*slot, buf, MAX_INPUT - input_len);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) return (void)(close(*slot), *slot = -1);
  if (h.stdin_fd < 0) return;
  char *more = realloc(input, input_len + (size_t)n);
  if (more == NULL) return log_error("queue input");
  memcpy(more + input_len, buf, (size_t)n);
  input = more;
  input_len += (size_t)n;
}

static void give_input(void) {
  ssize_t n = write(h.stdin_fd, input, input_len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) { /* EPIPE: the container closed its stdin; input is dropped, as before */
    close(h.stdin_fd);
    h.stdin_fd = -1;
    input_len = 0;
    return;
  }
  memmove(input, input + n, input_len - (size_t)n);
  input_len -= (size_t)n;
}

/* The container is reaped: its terminal holds the rest of what it wrote, read here without
 * waiting (conmon's rule). The slave held until now kept the master from reading EIO early, and
 * a process that kept the terminal open (a child outside the container's PID namespace) is not
 * waited for. */
static void end_terminal(void) {
  while (out.fd >= 0 && log_read(&out, h.log)) {
  }
  log_end(&out, h.log);
  close(h.slave);
  h.slave = -1;
}

static int watch(struct pollfd *p, int n, int fd, short events) {
  if (fd < 0) return n;
  p[n].fd = fd;
  p[n].events = events;
  p[n].revents = 0;
  return n + 1;
}

static short ready(const struct pollfd *p, int n, int fd) {
  for (int i = 0; i < n; i++)
    if (p[i].fd == fd) return p[i].revents;
  return 0;
}

static void serve(int sigfd) {
  struct pollfd p[6 + 2 * MAX_CLIENTS];
  while (exit_code < 0 || out.fd >= 0 || err.fd >= 0) {
    if (exit_code >= 0 && h.slave >= 0) {
      end_terminal();
      continue; /* the loop may be over */
    }
    int n = watch(p, 0, sigfd, POLLIN);
    n = watch(p, n, out.fd, POLLIN);
    n = watch(p, n, err.fd, POLLIN);
    n = watch(p, n, h.control, POLLIN);
    n = watch(p, n, h.attach, POLLIN);
    n = watch(p, n, input_len > 0 ? h.stdin_fd : -1, POLLOUT);
    /* A full queue: the attach sockets wait (never the loop: the container's stdin is written
     * non-blocking), so the log and the other clients go on. */
    int room = input_len < MAX_INPUT;
    for (int i = 0; i < MAX_CLIENTS; i++)
      n = watch(p, watch(p, n, controls[i], POLLIN), room ? attaches[i] : -1, POLLIN);
    /* Without a signalfd (it failed: said in the log), children are looked for every 100 ms. */
    if (poll(p, (nfds_t)n, sigfd < 0 ? 100 : -1) < 0) {
      if (errno == EINTR) continue;
      log_error("poll");
      return;
    }
    if (sigfd < 0 || ready(p, n, sigfd)) {
      struct signalfd_siginfo si;
      while (sigfd >= 0 && read(sigfd, &si, sizeof si) > 0) {
      }
      reap();
    }
    if (out.fd >= 0 && ready(p, n, out.fd)) log_read(&out, h.log);
    if (err.fd >= 0 && ready(p, n, err.fd)) log_read(&err, h.log);
    if (h.control >= 0 && ready(p, n, h.control)) add_client(controls, h.control);
    if (h.attach >= 0 && ready(p, n, h.attach)) add_client(attaches, h.attach);
    if (input_len > 0 && h.stdin_fd >= 0 && ready(p, n, h.stdin_fd)) give_input();
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (controls[i] >= 0 && ready(p, n, controls[i])) answer(&controls[i]);
      if (attaches[i] >= 0 && input_len < MAX_INPUT && ready(p, n, attaches[i])) take_input(&attaches[i]);
    }
  }
}

int main(int argc, char **argv) {
  if (!parse(argc, argv) || h.log < 0 || h.helper <= 0) {
    fprintf(stderr, "hutch-monitor: usage: hutch-monitor log=FD helper=PID ... -- NODE-COMMAND...\n");
    return 2;
  }
  for (int i = 0; i < MAX_CLIENTS; i++) controls[i] = attaches[i] = -1;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_SETMASK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0) log_error("signalfd");
  /* A terminal: its master is both the output and the input; its own fd for each, so the end
   * of the output (EIO once the container's side is closed) does not close the input's. */
  if (h.stdin_fd >= 0 && h.stdin_fd == out.fd && (h.stdin_fd = dup(out.fd)) < 0) log_error("dup the terminal");
  int fds[3] = { out.fd, err.fd, h.stdin_fd };
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0 && fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) < 0)
      log_error("make an fd non-blocking");
  reap(); /* what ended while Node handed over */
  serve(sigfd);
  if (exit_code < 0) { /* the loop failed: end the container rather than leave it unwatched */
    kill(h.container, SIGKILL);
    if (waitpid(h.helper, NULL, 0) < 0) log_error("wait for the container");
    exit_code = 137;
  }
  if (h.slave >= 0) end_terminal();
  log_end(&out, h.log);
  log_end(&err, h.log);
  if (h.attach_path != NULL) unlink(h.attach_path);
  free(input);
  stop_children(h.holder_helper);
  /* `rm -f` removes the record: an exit recorded there would be read by no one, and the finish is
   * a Node start on the path of every `rm -f` (~100 ms). */
  if (h.removing != NULL && access(h.removing, F_OK) == 0) return 0;
  exec_finish(h.finish, exit_code, failure);
  return 1;
}
