/* The end of a run: stop what the set-up started beside the container, as the Node monitor's
 * cleanup did (SIGTERM, then SIGKILL after 5 s; the union filesystem daemon last, as it was
 * started first), then exec the Node monitor's "finish" entry, which records the exit and applies
 * the restart policy and --rm. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "monitor.h"

#define MAX_CHILDREN 64
#define STOP_MS 5000

extern char **environ;

/* This process's children (the set-up's processes: slirp4netns, the forwarder, the union
 * filesystem's holder), found by their parent pid in /proc. */
static int children(pid_t *out, int max) {
  DIR *proc = opendir("/proc");
  if (proc == NULL) return log_error("list the processes"), 0;
  int n = 0;
  pid_t self = getpid();
  for (struct dirent *e; n < max && (e = readdir(proc)) != NULL;) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "re");
    if (f == NULL) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *close_paren = strrchr(buf, ')');
    int ppid;
    if (close_paren != NULL && sscanf(close_paren + 1, " %*c %d", &ppid) == 1 && ppid == self)
      out[n++] = (pid_t)atoi(e->d_name);
  }
  closedir(proc);
  return n;
}

static void sleep_ms(long ms) {
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
  nanosleep(&t, NULL);
}

/* SIGTERM to each, SIGKILL to those left after STOP_MS; every one reaped. */
static void stop(pid_t *pids, int n) {
  int left = n;
  for (int i = 0; i < n; i++) kill(pids[i], SIGTERM);
  for (long waited = 0; left > 0; waited += 10) {
    if (waited == STOP_MS)
      for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++) {
      if (pids[i] <= 0) continue;
      pid_t r = waitpid(pids[i], NULL, WNOHANG);
      if (r == pids[i] || (r < 0 && errno == ECHILD)) pids[i] = 0, left--;
    }
    if (left > 0) sleep_ms(10);
  }
}

void stop_children(pid_t last) {
  pid_t pids[MAX_CHILDREN];
  int n = children(pids, MAX_CHILDREN), k = 0;
  for (int i = 0; i < n; i++)
    if (pids[i] != last) pids[k++] = pids[i];
  stop(pids, k);
  if (last > 0 && kill(last, 0) == 0) stop(&last, 1);
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

void exec_finish(char **finish, int exit_code, const char *failure) {
  int n = 0;
  while (finish[n] != NULL) n++;
  char **argv = calloc((size_t)n + 3, sizeof *argv);
  char code[16];
  if (argv == NULL) return log_error("exec the monitor's finish");
  snprintf(code, sizeof code, "%d", exit_code);
  memcpy(argv, finish, (size_t)n * sizeof *argv);
  argv[n] = code;
  argv[n + 1] = (char *)failure;
  /* What the Node monitor held for the set-up's processes is of no use now they ended. */
  if (syscall(SYS_close_range, 3, ~0u, 0) < 0)
    for (int fd = 3; fd < 4096; fd++) close(fd);
  execve(argv[0], argv, environ);
  log_error("exec the monitor's finish");
}
