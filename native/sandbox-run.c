/*
 * hutch-sandbox runs hutch-nsexec as src/runtime/nsexec.ts spawnHelper and
 * src/engine/launch/launch.ts runContainer do: the plan on fd 3, the sync on fd 4 (CLONED, the id
 * maps written, MAPPED, READY, GO), failures on fd 5; signals forwarded once started, a signal
 * during the start ends it with 128+N; the exit status is the command's. A failure the helper
 * reports (the command missing, a mount refused) is the TypeScript path's to word: nothing of the
 * command ran, so it runs again there and says what went wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "wire.h"

static int child_pid; /* the sandbox's PID 1 (CLONED), for the status fds */

static int has_cap(int cap) {
  struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {0};
  if (syscall(SYS_capget, &head, data) != 0) return 0;
  return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static int write_proc(int pid, const char *file, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
  return write_text(path, text, 0);
}

/* newidmap.ts writeIdMaps for the user alone: written directly, setgroups denied first. */
static int write_maps(int pid, unsigned uid, unsigned gid) {
  char map[64];
  snprintf(map, sizeof map, "%u %u 1\n", uid, uid);
  if (write_proc(pid, "uid_map", map) != 0) return -1;
  if (!has_cap(CAP_SETGID) && write_proc(pid, "setgroups", "deny") != 0) return -1;
  snprintf(map, sizeof map, "%u %u 1\n", gid, gid);
  return write_proc(pid, "gid_map", map);
}

/* Creation failed (fd 5 has the step) or the maps could not be written: the TypeScript path says why. */
static _Noreturn void failed(pid_t pid, const char *why) {
  kill(pid, SIGKILL);
  wait_status(pid);
  fall_back(why);
}

/* Clone, maps, READY; then a signal that came meanwhile ends it unstarted, as runContainer does. */
static void create(pid_t pid, int sync, unsigned uid, unsigned gid) {
  unsigned char msg[5];
  if (read_full(sync, msg, 5) != 0 || msg[0] != SYNC_CLONED) failed(pid, "the helper failed before the clone");
  int child = msg[1] | msg[2] << 8 | msg[3] << 16 | msg[4] << 24;
  child_pid = child;
  if (write_maps(child, uid, gid) != 0) failed(pid, "cannot write the id maps");
  msg[0] = SYNC_MAPPED;
  if (write_full(sync, msg, 1) != 0) failed(pid, "the helper failed after the clone");
  if (read_full(sync, msg, 1) != 0 || msg[0] != SYNC_READY) failed(pid, "the helper failed before ready");
  if (helper_early()) {
    kill(pid, SIGKILL);
    wait_status(pid);
    _exit(128 + helper_early());
  }
}

/* status-fd.ts: a status line to --info-fd or --json-status-fd; a reader gone is a warning. */
static void status(const char *flag, int fd, const char *text, int close_it) {
  if (write_full(fd, text, strlen(text)) != 0) fprintf(stderr, "hutch: warning: cannot write %s %d: %s\n", flag, fd, strerror(errno));
  if (close_it) close(fd);
}

/* status-fd.ts: "child-pid" and the namespaces made (namespaceIds), between `open` and `close`. */
static const char *started_line(const struct options *o, const char *open, const char *sep, const char *close) {
  static char line[512];
  int n = snprintf(line, sizeof line, "%s\"child-pid\": %d", open, child_pid);
  static const char *const NAMES[] = {"cgroup", "ipc", "mnt", "net", "pid", "uts", NULL};
  for (const char *const *name = NAMES; *name != NULL; name++) {
    char path[64];
    struct stat st;
    if ((strcmp(*name, "cgroup") == 0 && !o->unshare_cgroup) || (strcmp(*name, "net") == 0 && o->share_net)) continue;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", child_pid, *name);
    if (stat(path, &st) == 0) n += snprintf(line + n, sizeof line - (size_t)n, "%s\"%s-namespace\": %llu", sep, *name, (unsigned long long)st.st_ino);
  }
  snprintf(line + n, sizeof line - (size_t)n, "%s", close);
  return line;
}

int run_helper(const char *helper, const struct buf *plan, unsigned uid, unsigned gid, const struct options *o) {
  int sync, fail;
  pid_t pid = helper_spawn(helper, "hutch-init", plan, 0, &sync, &fail);
  create(pid, sync, uid, gid);
  helper_go(pid, sync);
  unsigned char failure[12];
  if (read_full(fail, failure, sizeof failure) == 0) failed(pid, "the helper failed to start the command");
  if (o->info_fd > 0) status("--info-fd", o->info_fd, started_line(o, "{\n    ", ",\n    ", "\n}\n"), 1);
  if (o->json_fd > 0) status("--json-status-fd", o->json_fd, started_line(o, "{ ", ", ", " }\n"), 0);
  char line[64];
  int code = wait_status(pid);
  if (o->json_fd > 0) snprintf(line, sizeof line, "{ \"exit-code\": %d }\n", code), status("--json-status-fd", o->json_fd, line, 1);
  return code;
}
