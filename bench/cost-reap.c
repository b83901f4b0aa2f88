/* CPU seconds of a command and of every process it leaves (bench/cost.bench.sh): a subreaper, so
 * daemons that detach from the command (FUSE daemons, conmon, cleanup processes) are reparented
 * here and reaped; after all are waited for, RUSAGE_CHILDREN holds their user + system time.
 * Prints "USER SYS" seconds on fd 3 (or stderr). Gives up waiting GRACE seconds after the command
 * itself exits (a process that never ends is then named and left). Usage: cost-reap CMD ARGS...
 * Hold mode, `cost-reap -h DIR CMD ARGS...`: writes its pid to DIR/pid, runs CMD, writes its exit
 * status to DIR/status, and stays (reaping) until SIGTERM: every process CMD leaves running is
 * then a descendant of this one, which is how bench/cost-mem.sh finds a runtime's processes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(void) {
  struct rusage usage;
  getrusage(RUSAGE_CHILDREN, &usage);
  FILE *out = fdopen(3, "w");
  if (out == NULL) out = stderr;
  fprintf(out, "%ld.%06ld %ld.%06ld\n", (long)usage.ru_utime.tv_sec, (long)usage.ru_utime.tv_usec,
          (long)usage.ru_stime.tv_sec, (long)usage.ru_stime.tv_usec);
  fflush(out);
}

static void late(int sig) {
  (void)sig;
  fprintf(stderr, "cost-reap: processes still running after the command exited; counted so far\n");
  report();
  _exit(3);
}

static void put(const char *dir, const char *name, long value) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.tmp", dir, name);
  FILE *f = fopen(path, "w");
  if (f == NULL) return;
  fprintf(f, "%ld\n", value);
  fclose(f);
  char final[4096];
  snprintf(final, sizeof final, "%s/%s", dir, name);
  rename(path, final);
}

static void stop(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
  const char *hold = NULL;
  if (argc > 3 && argv[1][0] == '-' && argv[1][1] == 'h') hold = argv[2], argv += 2, argc -= 2;
  if (argc < 2) return 2;
  if (hold) signal(SIGTERM, stop), put(hold, "pid", (long)getpid());
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return perror("prctl"), 2;
  pid_t child = fork();
  if (child == 0) {
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status, code = 0;
  for (;;) {
    pid_t done = wait(&status);
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) break;
    if (done == child && hold) {
      put(hold, "status", WIFEXITED(status) ? WEXITSTATUS(status) : 128);
      continue;
    }
    if (done == child) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
      signal(SIGALRM, late);
      alarm(getenv("GRACE") ? atoi(getenv("GRACE")) : 20);
    }
  }
  if (hold) for (;;) pause();
  report();
  return code;
}
