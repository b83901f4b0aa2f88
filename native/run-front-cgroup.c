/*
 * The container's cgroup on a cgroup v2 host (run-front.h), as src/cgroups gives one to a foreground
 * `run` with no resource or cgroup flag (cgroup.ts createContainerCgroup, place.ts placeGroup,
 * systemd.ts): a transient scope hutch-ID.scope of the user's systemd manager, asked over D-Bus
 * through libsystemd's sd-bus (loaded with dlopen, as src/sys/sdbus.ts loads it with koffi: no
 * build-time dependency); or, in a subtree delegated to the user with no manager to ask, or
 * delegated by someone else than the manager (a Slurm job), a child hutch-ID of that subtree
 * (place.ts delegatedGroup: its processes first to its leaf hutch-init when controllers are to be
 * enabled). The container's process then goes to <group>/container, the group's controllers
 * enabled for it; at the end that cgroup is killed and removed, and the scope stopped or hutch-ID
 * removed. No manager to ask (or no libsystemd) and no delegated subtree: no cgroup of its own and
 * no warning, as there. A failure once the container's process exists is undone and handed over
 * (run-front-run.c): the TypeScript path's to say or degrade.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "run-front.h"

typedef struct sd_bus sd_bus;
typedef struct sd_bus_message sd_bus_message;
typedef struct {
  const char *name, *message;
  int need_free;
} sd_bus_error;

/* The sd-bus calls used (sd-bus(3)); sd_bus_message_append and _read take their values as varargs. */
static struct {
  int (*bus_new)(sd_bus **);
  int (*set_address)(sd_bus *, const char *);
  int (*set_bus_client)(sd_bus *, int);
  int (*start)(sd_bus *);
  sd_bus *(*flush_close_unref)(sd_bus *);
  int (*new_method_call)(sd_bus *, sd_bus_message **, const char *, const char *, const char *, const char *);
  int (*append)(sd_bus_message *, const char *, ...);
  int (*open_container)(sd_bus_message *, char, const char *);
  int (*close_container)(sd_bus_message *);
  int (*call)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **);
  int (*read)(sd_bus_message *, const char *, ...);
  sd_bus_message *(*message_unref)(sd_bus_message *);
  void (*error_free)(sd_bus_error *);
} sd;

static int bind_sd_bus(void) {
  void *lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return -1;
#define BIND(field, name) \
  if ((sd.field = dlsym(lib, name)) == NULL) return -1
  BIND(bus_new, "sd_bus_new");
  BIND(set_address, "sd_bus_set_address");
  BIND(set_bus_client, "sd_bus_set_bus_client");
  BIND(start, "sd_bus_start");
  BIND(flush_close_unref, "sd_bus_flush_close_unref");
  BIND(new_method_call, "sd_bus_message_new_method_call");
  BIND(append, "sd_bus_message_append");
  BIND(open_container, "sd_bus_message_open_container");
  BIND(close_container, "sd_bus_message_close_container");
  BIND(call, "sd_bus_call");
  BIND(read, "sd_bus_message_read");
  BIND(message_unref, "sd_bus_message_unref");
  BIND(error_free, "sd_bus_error_free");
#undef BIND
  return 0;
}

#define SYSTEMD "org.freedesktop.systemd1"
#define MANAGER_PATH "/org/freedesktop/systemd1"
#define MANAGER SYSTEMD ".Manager"
/* sdbus.ts: method calls wait 25 s, property reads 5 s. */
static const uint64_t CALL_USEC = 25000000, GET_USEC = 5000000;

/* Sends `m` (unref'd here): 0 with the reply; else -1, *named set when the bus answered with an
   error (a DbusError in sdbus.ts: the job or unit is gone) rather than failed. */
static int bus_send(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_message **reply, int *named) {
  sd_bus_error error = {0};
  *reply = NULL;
  int r = sd.call(bus, m, usec, &error, reply);
  sd.message_unref(m);
  if (named != NULL) *named = r < 0 && error.name != NULL;
  sd.error_free(&error);
  return r < 0 ? -1 : 0;
}

static sd_bus_message *method(sd_bus *bus, const char *path, const char *iface, const char *member) {
  sd_bus_message *m = NULL;
  return sd.new_method_call(bus, &m, SYSTEMD, path, iface, member) < 0 ? NULL : m;
}

/* sdbus.ts getString: a string property, or NULL (*named as in send). */
static char *get_string(sd_bus *bus, const char *path, const char *iface, const char *property, int *named) {
  sd_bus_message *m = method(bus, path, "org.freedesktop.DBus.Properties", "Get"), *reply;
  if (named != NULL) *named = 0;
  if (m == NULL || sd.append(m, "ss", iface, property) < 0) {
    if (m != NULL) sd.message_unref(m);
    return NULL;
  }
  if (bus_send(bus, m, GET_USEC, &reply, named) != 0) return NULL;
  const char *value = NULL;
  char *s = sd.read(reply, "v", "s", &value) >= 0 && value != NULL ? str_cat(value, "", "") : NULL;
  sd.message_unref(reply);
  return s;
}

/* systemd.ts unitProperty: GetUnit, then the property of its object. */
static char *unit_property(sd_bus *bus, const char *unit, const char *iface, const char *property) {
  sd_bus_message *m = method(bus, MANAGER_PATH, MANAGER, "GetUnit"), *reply;
  if (m == NULL || sd.append(m, "s", unit) < 0) {
    if (m != NULL) sd.message_unref(m);
    return NULL;
  }
  if (bus_send(bus, m, CALL_USEC, &reply, NULL) != 0) return NULL;
  const char *path = NULL;
  char *object = sd.read(reply, "o", &path) >= 0 && path != NULL ? str_cat(path, "", "") : NULL;
  sd.message_unref(reply);
  if (object == NULL) return NULL;
  char *full = str_cat(SYSTEMD ".", iface, "");
  char *value = get_string(bus, object, full, property, NULL);
  free(object), free(full);
  return value;
}

/* systemd.ts connectUserManager: the bus, then systemd's private socket; the first that answers
   with the manager's ControlGroup and Version. NULL when none does (*control_group then unset). */
static sd_bus *connect_manager(const struct cgroup *cg, char **control_group) {
  for (int i = 0; i < cg->naddresses; i++) {
    sd_bus *bus = NULL;
    if (sd.bus_new(&bus) < 0) continue;
    char *group = NULL, *version = NULL;
    if (sd.set_address(bus, cg->addresses[i]) >= 0 && sd.set_bus_client(bus, cg->bus_clients[i]) >= 0 && sd.start(bus) >= 0 &&
        (group = get_string(bus, MANAGER_PATH, MANAGER, "ControlGroup", NULL)) != NULL &&
        (version = get_string(bus, MANAGER_PATH, MANAGER, "Version", NULL)) != NULL) {
      free(version);
      if (control_group != NULL) *control_group = group;
      else free(group);
      return bus;
    }
    free(group);
    sd.flush_close_unref(bus);
  }
  return NULL;
}

/* detect.ts parseProcCgroup: *own, this process's cgroup v2 path ("0::/..."), or NULL; -1 when
   /proc/self/cgroup cannot be read. */
static int own_cgroup(char **own) {
  struct buf text = {0};
  *own = NULL;
  if (read_text("/proc/self/cgroup", &text) != 0) return -1;
  char *s = buf_cstr(&text), *save = NULL;
  free(text.p);
  for (char *line = strtok_r(s, "\n", &save); line != NULL && *own == NULL; line = strtok_r(NULL, "\n", &save)) {
    if (strncmp(line, "0::", 3) != 0) continue;
    size_t n = strlen(line + 3), deleted = strlen(" (deleted)");
    if (n >= deleted && strcmp(line + 3 + n - deleted, " (deleted)") == 0) line[3 + n - deleted] = '\0';
    *own = str_cat(line + 3, "", "");
  }
  free(s);
  return 0;
}

/* detect.ts writableSubtree: a cgroup (not the root) whose folder, cgroup.procs and cgroup.subtree_control the user may write. */
static int writable_subtree(const char *cgroup) {
  if (cgroup == NULL || strcmp(cgroup, "/") == 0) return 0;
  char *dir = path_join(CGROUP_MOUNT, cgroup);
  int ok = access(dir, W_OK) == 0 && access(str_cat(dir, "/cgroup.procs", ""), W_OK) == 0 &&
           access(str_cat(dir, "/cgroup.subtree_control", ""), W_OK) == 0;
  free(dir);
  return ok;
}

/* place.ts ownSubtree: a CLI in a delegated subtree's leaf hutch-init (an earlier run's move) places
   from that subtree. Takes `own`; NULL stays NULL. */
static char *own_subtree(char *own) {
  size_t n = own != NULL ? strlen(own) : 0, leaf = strlen("/hutch-init");
  if (n <= leaf || strcmp(own + n - leaf, "/hutch-init") != 0) return own;
  char *parent = strndup(own, n - leaf);
  if (parent == NULL || !writable_subtree(parent)) {
    free(parent);
    return own;
  }
  free(own);
  return parent;
}

/* place.ts isWithin. */
static int is_within(const char *cgroup, const char *ancestor) {
  size_t n = strlen(ancestor);
  if (cgroup == NULL) return 0;
  if (strcmp(cgroup, ancestor) == 0) return 1;
  if (n > 0 && ancestor[n - 1] == '/') return strncmp(cgroup, ancestor, n) == 0;
  return strncmp(cgroup, ancestor, n) == 0 && cgroup[n] == '/';
}

/* detect.ts userManagerSockets: the bus ($DBUS_SESSION_BUS_ADDRESS's unix:path=, else RUNTIME/bus) and
   RUNTIME/systemd/private, where they exist; RUNTIME: $XDG_RUNTIME_DIR, else /run/user/UID if it exists. */
static void manager_sockets(struct cgroup *cg) {
  char fallback[64];
  snprintf(fallback, sizeof fallback, "/run/user/%u", (unsigned)getuid());
  const char *xdg = getenv("XDG_RUNTIME_DIR"), *address = getenv("DBUS_SESSION_BUS_ADDRESS");
  const char *runtime = xdg != NULL && *xdg != '\0' ? xdg : exists(fallback) ? fallback : NULL;
  if (runtime != NULL && runtime[0] != '/') fall_back("a relative XDG_RUNTIME_DIR (the user manager's sockets)");
  char *bus_path = NULL;
  if (address != NULL && strncmp(address, "unix:path=", 10) == 0 && strcspn(address + 10, ",;") > 0)
    bus_path = strndup(address + 10, strcspn(address + 10, ",;"));
  else if (address != NULL && *address != '\0') fall_back("a DBUS_SESSION_BUS_ADDRESS other than unix:path=");
  if (bus_path != NULL && bus_path[0] != '/') fall_back("a relative path in DBUS_SESSION_BUS_ADDRESS");
  if (bus_path == NULL && runtime != NULL) bus_path = path_join(runtime, "bus");
  cg->naddresses = 0;
  if (bus_path != NULL && exists(bus_path)) cg->addresses[cg->naddresses] = str_cat("unix:path=", bus_path, ""), cg->bus_clients[cg->naddresses++] = 1;
  char *private_socket = runtime != NULL ? path_join(runtime, "systemd/private") : NULL;
  if (private_socket != NULL && exists(private_socket))
    cg->addresses[cg->naddresses] = str_cat("unix:path=", private_socket, ""), cg->bus_clients[cg->naddresses++] = 0;
  free(bus_path), free(private_socket);
}

/* removeGroup's kill, for a group to be made under `cgroup` (not the root, which has no cgroup.kill):
   cgroup.kill (Linux 5.14); before it, the freezer's loop is the TypeScript path's. */
static void need_cgroup_kill(const char *cgroup) {
  char *dir = path_join(CGROUP_MOUNT, cgroup), *kill_file = str_cat(dir, "/cgroup.kill", "");
  if (strcmp(cgroup, "/") != 0 && !exists(kill_file)) fall_back("a cgroup v2 host without cgroup.kill (before Linux 5.14)");
  free(dir), free(kill_file);
}

void cgroup_check(struct cgroup *cg, const char *id) {
  char *v2_mount;
  if (!unified_host(&v2_mount)) return; /* hybrid, legacy or none: no cgroup of its own and, with no limit asked, no warning */
  if (strcmp(v2_mount, CGROUP_MOUNT) != 0) fall_back("cgroup2 mounted elsewhere than /sys/fs/cgroup");
  char *own, *control_group = NULL;
  if (own_cgroup(&own) != 0) fall_back("cannot read /proc/self/cgroup");
  if (bind_sd_bus() == 0) { /* without libsystemd, sdbus.ts cannot open a bus: no manager either */
    manager_sockets(cg);
    cg->bus = connect_manager(cg, &control_group);
  }
  char *base = own_subtree(own != NULL ? str_cat(own, "", "") : NULL);
  int delegated = writable_subtree(base);
  free(base);
  /* place.ts: no manager to ask and no subtree delegated to the user: no cgroup of its own, and
     with no limit asked createContainerCgroup says nothing */
  if (cg->bus == NULL && !delegated) {
    free(own), free(v2_mount);
    return;
  }
  /* place.ts stay(): a delegated subtree and no manager, or one delegated by someone else (a Slurm
     job: a scope would escape its limits and accounting); the manager's connection is closed. */
  if (cg->bus == NULL || (delegated && !is_within(own, control_group))) {
    if (cg->bus != NULL) sd.flush_close_unref(cg->bus), cg->bus = NULL;
    need_cgroup_kill(own);
    cg->delegated = 1;
    cg->name = str_cat("hutch-", id, "");
  } else {
    need_cgroup_kill(control_group); /* the scope is made below the manager's cgroup */
    cg->unit = str_cat("hutch-", id, ".scope");
    cg->description = str_cat("hutch container ", id, "");
  }
  cg->wanted = 1;
  free(control_group), free(own), free(v2_mount);
}

/* systemd.ts startScope: StartTransientUnit(unit, "fail", properties, no aux units), its job. */
static char *start_scope(struct cgroup *cg, pid_t pid) {
  sd_bus_message *m = method(cg->bus, MANAGER_PATH, MANAGER, "StartTransientUnit"), *reply;
  if (m == NULL) return NULL;
  int r = sd.append(m, "ss", cg->unit, "fail");
  if (r >= 0) r = sd.open_container(m, 'a', "(sv)");
  if (r >= 0) r = sd.append(m, "(sv)", "Description", "s", cg->description);
  if (r >= 0) r = sd.append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid);
  if (r >= 0) r = sd.append(m, "(sv)", "Delegate", "b", 1);
  /* A scope that fails must not linger under its name (systemd.ts). */
  if (r >= 0) r = sd.append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
  if (r >= 0) r = sd.close_container(m);
  if (r >= 0) r = sd.append(m, "a(sa(sv))", 0);
  if (r < 0) {
    sd.message_unref(m);
    return NULL;
  }
  if (bus_send(cg->bus, m, CALL_USEC, &reply, NULL) != 0) return NULL;
  cg->started = 1;
  const char *job = NULL;
  char *s = sd.read(reply, "o", &job) >= 0 && job != NULL ? str_cat(job, "", "") : NULL;
  sd.message_unref(reply);
  return s;
}

static void sleep_ms(unsigned ms) {
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {}
}

/* systemd.ts waitForJob: the job object exists until the job ends (a read of it answered with a
   D-Bus error), within 30 s; then the unit must be active. Polled every 2 ms rather than 10 (the
   TypeScript path's timer): the start job of a scope ends within milliseconds. */
static int wait_for_job(struct cgroup *cg, const char *job) {
  uint64_t deadline = now_ms() + 30000;
  for (;;) {
    int named;
    char *state = get_string(cg->bus, job, SYSTEMD ".Job", "State", &named);
    if (state == NULL && named) break;
    if (state == NULL || now_ms() > deadline) {
      free(state);
      return -1;
    }
    free(state);
    sleep_ms(2);
  }
  char *active = unit_property(cg->bus, cg->unit, "Unit", "ActiveState");
  int ok = active != NULL && strcmp(active, "active") == 0;
  free(active);
  return ok ? 0 : -1;
}

static int write_cgroup_file(const char *dir, const char *file, const char *value) {
  char *path = str_cat(dir, "/", file);
  int r = write_text(path, value, 0);
  free(path);
  return r;
}

/* fs2.ts procs: the pids of cgroup.procs (none when it cannot be read), at most `max` (more: -1). */
static int procs(const char *dir, pid_t *pids, int max) {
  struct buf text = {0};
  char *path = str_cat(dir, "/cgroup.procs", "");
  int n = 0;
  if (read_text(path, &text) == 0) {
    char *s = buf_cstr(&text), *save = NULL;
    for (char *line = strtok_r(s, "\n", &save); line != NULL && n >= 0; line = strtok_r(NULL, "\n", &save))
      n = n < max ? (pids[n] = (pid_t)atoi(line), n + 1) : -1;
    free(s);
  }
  free(text.p), free(path);
  return n;
}

/* fs2.ts makeCgroup: made, or there already. */
static int make_cgroup(const char *dir) {
  return mkdir(dir, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

/* fs2.ts moveProcess. */
static int move_process(const char *dir, pid_t pid) {
  char value[32];
  snprintf(value, sizeof value, "%d", (int)pid);
  return write_cgroup_file(dir, "cgroup.procs", value);
}

/* detect.ts KNOWN_CONTROLLERS: the controllers hutch uses, in the order it enables them. */
static const char *const KNOWN_CONTROLLERS[] = {"cpu", "cpuset", "io", "memory", "pids", "hugetlb", NULL};

/* Which of KNOWN_CONTROLLERS (bit i for the i-th) the word list `file` of `dir` names
   (cgroup.controllers, cgroup.subtree_control): the file read once, whatever is asked of it. */
static unsigned listed(const char *dir, const char *file) {
  struct buf text = {0};
  char *path = str_cat(dir, "/", file);
  read_text(path, &text);
  char *words = buf_cstr(&text), *save = NULL;
  unsigned found = 0;
  for (char *w = strtok_r(words, " \t\n", &save); w != NULL; w = strtok_r(NULL, " \t\n", &save))
    for (int i = 0; KNOWN_CONTROLLERS[i] != NULL; i++)
      if (strcmp(w, KNOWN_CONTROLLERS[i]) == 0) found |= 1u << i;
  free(words), free(text.p), free(path);
  return found;
}

static const unsigned ALL_KNOWN = (1u << (sizeof KNOWN_CONTROLLERS / sizeof *KNOWN_CONTROLLERS - 1)) - 1;

/* fs2.ts enableControllers: each of `wanted` that `dir` offers, one at a time, in KNOWN_CONTROLLERS'
   order (a refusal hides none of the others). */
static void enable_controllers(const char *dir, unsigned wanted) {
  unsigned offered = listed(dir, "cgroup.controllers");
  for (int i = 0; KNOWN_CONTROLLERS[i] != NULL; i++) {
    if (!(wanted & offered & (1u << i))) continue;
    char *value = str_cat("+", KNOWN_CONTROLLERS[i], "");
    write_cgroup_file(dir, "cgroup.subtree_control", value);
    free(value);
  }
}

/* cgroup.ts arrange: the container's process to container/, any other of the group to supervisor/
   (none here: the group was made with the container's process alone), then the known controllers
   the group offers enabled for its children. */
static int arrange(const char *group, pid_t pid) {
  char *container = str_cat(group, "/container", ""), *supervisor = str_cat(group, "/supervisor", "");
  int ok = make_cgroup(container) == 0 && move_process(container, pid) == 0;
  pid_t others[256];
  int n = ok ? procs(group, others, 256) : 0;
  if (n < 0) ok = 0;
  for (int i = 0; ok && i < n; i++)
    if (others[i] != pid) ok = make_cgroup(supervisor) == 0 && move_process(supervisor, others[i]) == 0;
  free(container), free(supervisor);
  if (!ok) return -1;
  enable_controllers(group, ALL_KNOWN);
  return 0;
}

/* place.ts delegatedGroup, in the subtree the CLI is in (read again now, as detectHost does at the
   placing): the known controllers it offers and has not enabled are wanted; if any is and it has
   processes (the CLI's own, the job's), those go to its leaf hutch-init first (the no-internal-process
   rule), and stay there; then the wanted are enabled, and hutch-ID made (there already is fine) with
   the container's process in it. cg->started once hutch-ID is there: the undo removes it. */
static int delegated_group(struct cgroup *cg, pid_t pid) {
  char *own;
  if (own_cgroup(&own) != 0 || !writable_subtree(own = own_subtree(own))) { /* moved out meanwhile: the TypeScript path's to place from there */
    free(own);
    return -1;
  }
  char *base = path_join(CGROUP_MOUNT, own), *leaf = str_cat(base, "/hutch-init", "");
  unsigned wanted = listed(base, "cgroup.controllers") & ~listed(base, "cgroup.subtree_control");
  int ok = 1;
  pid_t residents[1024];
  int n = wanted != 0 ? procs(base, residents, 1024) : 0;
  if (n < 0) ok = 0; /* more than it holds: the TypeScript path's to move */
  if (ok && n > 0) ok = make_cgroup(leaf) == 0;
  for (int i = 0; ok && i < n; i++) ok = move_process(leaf, residents[i]) == 0;
  if (ok) enable_controllers(base, wanted);
  cg->dir = ok ? path_join(base, cg->name) : NULL;
  cg->started = ok = ok && make_cgroup(cg->dir) == 0;
  ok = ok && move_process(cg->dir, pid) == 0;
  free(own), free(base), free(leaf);
  return ok ? 0 : -1;
}

/* Signals wait while the manager is asked (sd_bus_call's poll is not restarted after one): they
   come once it answered, to the front's handler (a signal before GO ends the run unstarted). */
static void hold_signals(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, old);
}

/* place.ts systemdGroup: the scope started with the container's process, its folder asked. */
static int scope_group(struct cgroup *cg, pid_t pid) {
  char *job = start_scope(cg, pid);
  int r = job != NULL ? wait_for_job(cg, job) : -1;
  char *path = r == 0 ? unit_property(cg->bus, cg->unit, "Scope", "ControlGroup") : NULL;
  free(job);
  /* The scope's folder, as the manager names it (place.ts systemdGroup): one under the mount. */
  if (path != NULL && path[0] == '/' && strcmp(path, "/") != 0 && strstr(path, "/..") == NULL) cg->dir = path_join(CGROUP_MOUNT, path);
  else r = -1;
  free(path);
  sd.flush_close_unref(cg->bus); /* place.ts closes it; the stop opens its own */
  cg->bus = NULL;
  return r;
}

int cgroup_place(struct cgroup *cg, pid_t pid) {
  sigset_t old;
  hold_signals(&old);
  int r = cg->delegated ? delegated_group(cg, pid) : scope_group(cg, pid);
  if (r == 0) r = arrange(cg->dir, pid);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return r;
}

/* fs2.ts killAll with cgroup.kill: every process of the cgroup and below SIGKILLed, then until
   cgroup.events says unpopulated (2 ms, doubling to 50, within 20 s). */
static int kill_all(const char *dir) {
  if (write_cgroup_file(dir, "cgroup.kill", "1") != 0) return -1;
  uint64_t deadline = now_ms() + 20000;
  char *events = str_cat(dir, "/cgroup.events", "");
  for (unsigned delay = 2;; delay = delay * 2 > 50 ? 50 : delay * 2) {
    struct buf text = {0};
    int populated = 0;
    if (read_text(events, &text) == 0) {
      char *s = buf_cstr(&text), *at = strstr(s, "populated ");
      populated = at != NULL && (at == s || at[-1] == '\n') && at[10] == '1';
      free(s);
    }
    free(text.p);
    if (!populated) break;
    if (now_ms() > deadline) {
      free(events);
      return -1;
    }
    sleep_ms(delay);
  }
  free(events);
  return 0;
}

/* fs2.ts removeCgroup: its child cgroups first, deepest first; missing is fine. */
static int remove_cgroup(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return errno == ENOENT ? 0 : -1;
  int r = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    char *child = str_cat(dir, "/", e->d_name);
    if (remove_cgroup(child) != 0) r = -1;
    free(child);
  }
  closedir(d);
  if (r == 0 && rmdir(dir) != 0 && errno != ENOENT) r = -1;
  return r;
}

/* systemd.ts stopScope: StopUnit(unit, "fail") on a connection of its own; its failure, as a failed
   step of the TypeScript path's clean-up, is not the run's (an empty scope ends by itself). */
static void stop_scope(struct cgroup *cg) {
  sd_bus *bus = connect_manager(cg, NULL);
  if (bus == NULL) return;
  sd_bus_message *m = method(bus, MANAGER_PATH, MANAGER, "StopUnit"), *reply;
  if (m != NULL && sd.append(m, "ss", cg->unit, "fail") < 0) sd.message_unref(m);
  else if (m != NULL && bus_send(bus, m, CALL_USEC, &reply, NULL) == 0) sd.message_unref(reply); /* bus_send unrefs m either way */
  sd.flush_close_unref(bus);
}

/* cgroup.ts removeGroup, each step only when the one before it went well (a throw there ends it). */
static void remove_group(struct cgroup *cg) {
  char *container = str_cat(cg->dir, "/container", ""), *supervisor = str_cat(cg->dir, "/supervisor", "");
  pid_t pids[1];
  int ok = !exists(container) || (kill_all(container) == 0 && remove_cgroup(container) == 0);
  if (ok && exists(supervisor) && procs(supervisor, pids, 1) == 0) ok = remove_cgroup(supervisor) == 0;
  /* An empty group: a scope is told to stop (it would by itself), a delegated subtree's child removed. */
  if (ok && exists(cg->dir) && procs(cg->dir, pids, 1) == 0 && !exists(supervisor)) {
    if (cg->delegated) remove_cgroup(cg->dir);
    else stop_scope(cg);
  }
  free(container), free(supervisor);
}

void cgroup_remove(struct cgroup *cg) {
  if (cg->bus != NULL) sd.flush_close_unref(cg->bus), cg->bus = NULL;
  if (!cg->started) return;
  sigset_t old;
  hold_signals(&old);
  if (cg->dir != NULL) remove_group(cg);
  sigprocmask(SIG_SETMASK, &old, NULL);
  cg->started = 0;
}

void cgroup_undo(struct cgroup *cg) {
  int started = cg->started;
  cgroup_remove(cg);
  if (!started) return;
  sigset_t old;
  hold_signals(&old);
  /* whatever is left in it: a scope whose folder was never known, a process moved before a step failed */
  if (!cg->delegated) stop_scope(cg);
  else if (exists(cg->dir) && kill_all(cg->dir) == 0) remove_cgroup(cg->dir);
  sigprocmask(SIG_SETMASK, &old, NULL);
}
