/*
 * hutch-run-front's slirp4netns network (run-front.h), as the TypeScript path runs it for a
 * --rootfs tree bound as it is (net/slirp.ts startSlirp through src/engine/setup/network.ts's
 * hook): the helper makes tap0 in the container's network namespace, slirp4netns starts on the
 * container's pid between READY and GO with net/slirp.ts slirpArguments' words (the sandbox and
 * seccomp flags from the --help text the TypeScript path caches in RUN/net/slirp4netns-help), its
 * --ready-fd waited on, its --exit-fd the front's so that it ends with the front even by SIGKILL;
 * ended with SIGTERM and reaped after the container. What it cannot decide as the TypeScript path
 * would (no cache yet, a binary changed since) it hands over before it made anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-front.h"


/* net/slirp.ts cachedHelp: "BINARY SIZE MTIMEMS" then the --help text. The key's mtimeMs is a
   JavaScript number; read back with strtod it is the same double as Node's sec * 1e3 + nsec / 1e6. */
static char *cached_help(const char *net_parent, const char *binary) {
  struct stat st;
  if (stat(binary, &st) != 0) fall_back("slirp4netns cannot be stat'ed");
  struct buf text = {0};
  if (read_text(path_join(net_parent, "slirp4netns-help"), &text) != 0) fall_back("no cached slirp4netns --help yet");
  char *s = buf_cstr(&text), *nl = strchr(s, '\n');
  if (nl == NULL) fall_back("the cached slirp4netns --help has no key line");
  *nl = '\0';
  char *mtime = strrchr(s, ' '), *size = NULL;
  if (mtime != NULL) *mtime++ = '\0', size = strrchr(s, ' ');
  if (size == NULL) fall_back("the cached slirp4netns --help's key is not its binary's");
  *size++ = '\0';
  char expect[32], *end;
  snprintf(expect, sizeof expect, "%lld", (long long)st.st_size);
  double ms = strtod(mtime, &end), node = (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6;
  /* JavaScript writes such a number as digits and one point at most (no exponent below 1e21). */
  if (strcmp(s, binary) != 0 || strcmp(size, expect) != 0 || *end != '\0' || ms != node || mtime[strspn(mtime, "0123456789.")] != '\0')
    fall_back("the cached slirp4netns --help is not its binary's (the TypeScript path asks it again)");
  return nl + 1;
}

void check_slirp(struct run *r, const char *cwd) {
  r->slirp_binary = find_on_path("slirp4netns", cwd);
  if (r->slirp_binary == NULL) fall_back("slirp4netns is not installed (the default is then none, with a notice)");
  if (access("/dev/net/tun", R_OK | W_OK) != 0) fall_back("/dev/net/tun is not usable");
  char *net_parent = path_join(r->run, "net");
  const char *help = cached_help(net_parent, r->slirp_binary);
  r->slirp_sandbox = strstr(help, "--enable-sandbox") != NULL;
  r->slirp_seccomp = strstr(help, "--enable-seccomp") != NULL;
}

/* net/slirp.ts startSlirp on `pid` (the container's process, tap0 made): 0 once ready, -1 when it
   exited first (the run then starts again on the TypeScript path, which says why). */
int start_slirp(struct run *r, const char *net_dir, pid_t pid, struct slirp *s) {
  s->pid = -1, s->exit_fd = -1;
  char *api = path_join(net_dir, "slirp4netns.sock"), *api_flag = str_cat("--api-socket=", api, "");
  unlink(api);
  char pid_text[16];
  snprintf(pid_text, sizeof pid_text, "%d", (int)pid);
  /* slirpArguments for net/options.ts defaultSlirp. */
  char *argv[16];
  int n = 0;
  argv[n++] = "slirp4netns", argv[n++] = "--configure", argv[n++] = "--mtu=65520", argv[n++] = "--cidr=10.0.2.0/24";
  argv[n++] = "--exit-fd=3", argv[n++] = "--ready-fd=4", argv[n++] = api_flag, argv[n++] = "--disable-host-loopback";
  if (r->slirp_sandbox) argv[n++] = "--enable-sandbox";
  if (r->slirp_seccomp) argv[n++] = "--enable-seccomp";
  argv[n++] = pid_text, argv[n++] = "tap0", argv[n] = NULL;
  int exit_pipe[2], ready_pipe[2];
  if (pipe2(exit_pipe, O_CLOEXEC) != 0) return -1;
  if (pipe2(ready_pipe, O_CLOEXEC) != 0) {
    close(exit_pipe[0]), close(exit_pipe[1]);
    return -1;
  }
  char **env = node_environ();
  pid_t child = fork();
  if (child == 0) { /* as posix_spawnp from Node: stdin and stdout /dev/null, the caller's environment as process.env lists it */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    /* stderr: the TypeScript path keeps it for its error message; a failure here reruns there. */
    int high_exit = fcntl(exit_pipe[0], F_DUPFD_CLOEXEC, 10), high_ready = fcntl(ready_pipe[1], F_DUPFD_CLOEXEC, 10);
    if (null < 0 || high_exit < 0 || high_ready < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
        dup2(high_exit, 3) < 0 || dup2(high_ready, 4) < 0)
      _exit(127);
    /* Node marks what it inherited close-on-exec, so on the TypeScript path slirp4netns gets fds 0-4
       alone: the caller's other fds (a shell's, a batch system's) must not reach it here either. */
    close_from(5);
    execve(r->slirp_binary, argv, env);
    _exit(127);
  }
  free(env);
  close(exit_pipe[0]), close(ready_pipe[1]);
  if (child < 0) {
    close(exit_pipe[1]), close(ready_pipe[0]);
    return -1;
  }
  s->pid = child, s->exit_fd = exit_pipe[1], s->api = api;
  char ready;
  ssize_t got;
  while ((got = read(ready_pipe[0], &ready, 1)) < 0 && errno == EINTR) {}
  close(ready_pipe[0]);
  return got == 1 ? 0 : -1;
}

/* net/process.ts supervise's clean-up: SIGTERM, wait, the api socket removed. */
void stop_slirp(struct slirp *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    wait_status(s->pid);
    s->pid = -1;
  }
  if (s->exit_fd >= 0) close(s->exit_fd), s->exit_fd = -1;
  if (s->api != NULL) unlink(s->api);
}

/* net/forwarder.ts spawnForwarder({userns, tap}) with no port: stdin and stdout /dev/null, the
   control socket at fd 3 ("ready\n" once the namespace and tap0 are made), nothing else. Its
   stderr is /dev/null: a forwarder that fails makes the run start again on the TypeScript path,
   which says why. */
int start_forwarder(const char *native, pid_t holder, struct forwarder *f) {
  f->pid = -1, f->control = -1;
  char userns[64];
  snprintf(userns, sizeof userns, "--userns=/proc/%d/ns/user", (int)holder);
  char *binary = path_join(native, "hutch-forwarder"), *argv[] = {binary, userns, "--tap=tap0", NULL};
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  char **env = node_environ();
  pid_t child = fork();
  if (child == 0) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC), high = fcntl(pair[1], F_DUPFD_CLOEXEC, 10);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    if (null < 0 || high < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 || dup2(high, 3) < 0) _exit(127);
    close_from(4);
    execve(binary, argv, env);
    _exit(127);
  }
  free(env);
  close(pair[1]);
  if (child < 0) {
    close(pair[0]);
    return -1;
  }
  f->pid = child, f->control = pair[0];
  char line[6];
  return read_full(f->control, line, sizeof line) == 0 && memcmp(line, "ready\n", 6) == 0 ? 0 : -1;
}

/* NetworkAhead.joined: the container holds the namespace now; the forwarder, serving no port, ends. */
void release_forwarder(struct forwarder *f) {
  if (f->control >= 0) close(f->control), f->control = -1;
}

void stop_forwarder(struct forwarder *f) {
  release_forwarder(f);
  if (f->pid > 0) {
    kill(f->pid, SIGTERM);
    wait_status(f->pid);
    f->pid = -1;
  }
}
