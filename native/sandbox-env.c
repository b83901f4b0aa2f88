/*
 * hutch-sandbox's environment (src/sandbox/env.ts) and session sockets and devices
 * (src/sandbox/sockets.ts), the same answers for the same variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sandbox.h"
#include "wire.h"

extern char **environ;

/* V8 lists an array index ("0", "17", below 2^32-1) of process.env apart: Object.entries skips it. */
static int array_index(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 10 || (name[0] == '0' && n > 1) || strspn(name, "0123456789") != n) return 0;
  return strtoull(name, NULL, 10) <= 4294967294ull;
}

static int env_find(const struct env *e, const char *name) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->name[i], name) == 0) return i;
  return -1;
}

void env_set(struct env *e, const char *name, const char *value) {
  int i = env_find(e, name);
  if (i >= 0) {
    e->value[i] = value;
    return;
  }
  if (e->n == e->cap) {
    e->cap = e->cap * 2 + 16;
    e->name = realloc(e->name, sizeof(char *) * (size_t)e->cap);
    e->value = realloc(e->value, sizeof(char *) * (size_t)e->cap);
    if (e->name == NULL || e->value == NULL) fall_back("out of memory");
  }
  e->name[e->n] = name;
  e->value[e->n++] = value;
}

void env_unset(struct env *e, const char *name) {
  int i = env_find(e, name);
  if (i < 0) return;
  memmove(e->name + i, e->name + i + 1, sizeof(char *) * (size_t)(e->n - i - 1));
  memmove(e->value + i, e->value + i + 1, sizeof(char *) * (size_t)(e->n - i - 1));
  e->n--;
}

const char *env_get(const struct env *e, const char *name) {
  int i = env_find(e, name);
  return i < 0 ? NULL : e->value[i];
}

/* Object.entries(process.env): environ in order, the first of a name, no "=x", no "x" without "=". */
void env_from_host(struct env *e) {
  for (char **p = environ; *p != NULL; p++) {
    char *eq = strchr(*p, '=');
    if (eq == NULL || eq == *p) continue;
    char *name = strndup(*p, (size_t)(eq - *p));
    if (name == NULL) fall_back("out of memory");
    if (array_index(name) || env_find(e, name) >= 0) continue;
    env_set(e, name, eq + 1);
  }
}

static const char *const BLOCKED[] = {
    "DBUS_SESSION_BUS_ADDRESS", "DBUS_SYSTEM_BUS_ADDRESS", "DISPLAY", "GPG_AGENT_INFO", "INVOCATION_ID",
    "JOURNAL_STREAM", "KRB5CCNAME", "LD_AUDIT", "LD_PRELOAD", "LISTEN_FDNAMES", "LISTEN_FDS", "LISTEN_PID",
    "MANAGERPID", "NOTIFY_SOCKET", "PIPEWIRE_REMOTE", "PULSE_COOKIE", "PULSE_SERVER", "SESSION_MANAGER",
    "SSH_AGENT_PID", "SSH_AUTH_SOCK", "STY", "SYSTEMD_EXEC_PID", "TMUX", "TMUX_PANE", "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET", "XAUTHORITY", "XDG_RUNTIME_DIR", NULL};

int env_blocked(const char *name) {
  for (const char *const *b = BLOCKED; *b != NULL; b++)
    if (strcmp(*b, name) == 0) return 1;
  return strncmp(name, "HUTCH_", 6) == 0;
}

/* `env.X || fallback`: unset and empty alike. */
static const char *or_else(const struct env *e, const char *name, const char *fallback) {
  const char *v = env_get(e, name);
  return v != NULL && *v != '\0' ? v : fallback;
}

static void add_ro_bind(struct mounts *ms, const char *path) {
  mounts_add(ms, (struct mount){path, "bind", path, "", 0x1000 /* MS_BIND */, 1, 1});
}

/* sockets.ts's `^(?:unix)?:(\d+)(?:\.\d+)?$`: the display number, or NULL. */
static char *x11_display(const char *d) {
  if (strncmp(d, "unix", 4) == 0) d += 4;
  if (*d++ != ':') return NULL;
  size_t n = strspn(d, "0123456789");
  if (n == 0) return NULL;
  const char *rest = d + n;
  if (*rest == '.' && strspn(rest + 1, "0123456789") > 0) rest += 1 + strspn(rest + 1, "0123456789");
  return *rest == '\0' ? strndup(d, n) : NULL;
}

/*
 * sockets.ts's `^unix:(?:.*,)?path=([^,;]+)`: the last ",path=" with a value, else "path=" right
 * after "unix:". `.` stops at a line break: an address with one (or any non-ASCII) falls back.
 */
static char *dbus_path(const char *a) {
  if (strncmp(a, "unix:", 5) != 0) return NULL;
  for (const unsigned char *c = (const unsigned char *)a; *c; c++)
    if (*c == '\n' || *c == '\r' || *c >= 0x80) fall_back("a D-Bus address with a line break or non-ASCII");
  const char *found = NULL;
  for (const char *c = a + 5; *c; c++)
    if (c[0] == ',' && strncmp(c + 1, "path=", 5) == 0 && strcspn(c + 6, ",;") > 0) found = c + 6;
  if (found == NULL && strncmp(a + 5, "path=", 5) == 0 && strcspn(a + 10, ",;") > 0) found = a + 10;
  return found == NULL ? NULL : strndup(found, strcspn(found, ",;"));
}

/* Where one socket is and the variables naming it (sockets.ts LOCATE); NULL path: fall back. */
static const char *locate(int kind, const struct env *e, const char *rt, struct env *own) {
  if (kind == 0) { /* wayland */
    const char *display = or_else(e, "WAYLAND_DISPLAY", "wayland-0");
    env_set(own, "WAYLAND_DISPLAY", display);
    env_set(own, "XDG_RUNTIME_DIR", rt);
    return display[0] == '/' ? display : path_join(rt, display);
  }
  if (kind == 1) { /* x11 */
    char *n = x11_display(or_else(e, "DISPLAY", ""));
    if (n == NULL) return NULL;
    env_set(own, "DISPLAY", str_cat(":", n, ""));
    return str_cat("/tmp/.X11-unix/X", n, "");
  }
  if (kind == 2) { /* pulseaudio */
    const char *server = or_else(e, "PULSE_SERVER", str_cat("unix:", rt, "/pulse/native"));
    if (strncmp(server, "unix:/", 6) != 0) return NULL;
    env_set(own, "PULSE_SERVER", server);
    return server + 5;
  }
  if (kind == 3) { /* pipewire */
    const char *remote = or_else(e, "PIPEWIRE_REMOTE", "pipewire-0");
    env_set(own, "XDG_RUNTIME_DIR", rt);
    if (or_else(e, "PIPEWIRE_REMOTE", NULL) != NULL) env_set(own, "PIPEWIRE_REMOTE", remote);
    return remote[0] == '/' ? remote : path_join(rt, remote);
  }
  char *path = dbus_path(or_else(e, "DBUS_SESSION_BUS_ADDRESS", str_cat("unix:path=", rt, "/bus")));
  if (path != NULL) env_set(own, "DBUS_SESSION_BUS_ADDRESS", str_cat("unix:path=", path, ""));
  return path;
}

void passthrough(const struct options *o, const struct env *host, unsigned uid, struct mounts *ms, struct env *own) {
  char uid_text[16];
  snprintf(uid_text, sizeof uid_text, "%u", uid);
  const char *rt = or_else(host, "XDG_RUNTIME_DIR", str_cat("/run/user/", uid_text, ""));
  for (int i = 0; i < o->nsockets; i++) {
    const char *path = locate(o->sockets[i], host, rt, own);
    if (path == NULL) fall_back("a socket address that is not a path");
    if (!exists(path)) fall_back("a socket asked for is missing");
    add_ro_bind(ms, path);
    const char *xauth = or_else(host, "XAUTHORITY", NULL);
    if (o->sockets[i] == 1 && xauth != NULL && exists(xauth)) {
      add_ro_bind(ms, xauth);
      env_set(own, "XAUTHORITY", xauth);
    }
  }
  if (o->dri) {
    if (!exists("/dev/dri")) fall_back("no /dev/dri");
    mounts_add(ms, (struct mount){"/dev/dri", "bind", "/dev/dri", "", 0x1000 | 0x4000 /* MS_BIND|MS_REC */, 1, 0});
  }
}

/* env.ts sandboxEnv: the caller's minus the blocklist, then HOME and the sockets', --setenv, --unsetenv. */
struct env sandbox_env(const struct plan_input *in, const char *home, const struct env *own) {
  struct env env = {0};
  if (!in->o->clearenv)
    for (int i = 0; i < in->host.n; i++)
      if (!env_blocked(in->host.name[i])) env_set(&env, in->host.name[i], in->host.value[i]);
  if (home != NULL) env_set(&env, "HOME", home);
  for (int i = 0; i < own->n; i++) env_set(&env, own->name[i], own->value[i]);
  for (int i = 0; i < in->o->nsetenv; i++) env_set(&env, in->o->setenv[2 * i], in->o->setenv[2 * i + 1]);
  for (int i = 0; i < in->o->nunsetenv; i++) env_unset(&env, in->o->unsetenv[i]);
  return env;
}

/* The process's records (nsexec.ts planRecords, from CWD on). */
void process_records(struct buf *plan, const struct plan_input *in, const char *cwd, const struct env *env) {
  record_strs(plan, TAG_CWD, cwd, NULL);
  struct buf p = {0};
  buf_u32(&p, in->uid), buf_u32(&p, in->gid);
  plan_record(plan, TAG_USER, &p);
  p.len = 0;
  for (int i = 0; i < 5; i++) buf_u64(&p, 0);
  plan_record(plan, TAG_CAPS, &p);
  p.len = 0;
  plan_record(plan, TAG_NO_NEW_PRIVS, &p);
  plan_record(plan, TAG_SECCOMP, in->seccomp);
  for (char **a = in->o->args; *a != NULL; a++) record_strs(plan, TAG_ARG, *a, NULL);
  if (in->o->argv0 != NULL) record_strs(plan, TAG_ARGV_ZERO, in->o->argv0, NULL);
  int has_home = 0;
  for (int i = 0; i < env->n; i++) {
    char *entry = str_cat(env->name[i], "=", env->value[i]);
    record_strs(plan, TAG_ENV, entry, NULL);
    has_home |= strcmp(env->name[i], "HOME") == 0;
    free(entry);
  }
  plan_record(plan, TAG_INIT, &p);
  if (!has_home) plan_record(plan, TAG_HOME, &p);
  free(p.p);
}
