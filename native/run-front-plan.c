/*
 * hutch-run-front's plan: the spec of src/engine/spec/container-spec.ts specFromBlueprint for a
 * --rootfs tree bound as it is (with its -v binds), carried through src/runtime/plan.ts planFromSpec and encoded as
 * src/runtime/nsexec.ts encodePlan does. Same order, same bytes (test/integration/run-front.test.ts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run-front.h"
#include "wire.h"

enum {
  CLONE_NEWNS_ = 0x20000, CLONE_NEWCGROUP_ = 0x2000000, CLONE_NEWUTS_ = 0x4000000, CLONE_NEWIPC_ = 0x8000000,
  CLONE_NEWUSER_ = 0x10000000, CLONE_NEWPID_ = 0x20000000, CLONE_NEWNET_ = 0x40000000,
};

/* container-spec.ts MASKED_PATHS and READONLY_PATHS. */
static const char *const MASKED[] = {"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap", NULL};
static const char *const READONLY[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
static const char *const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

void id_map(struct buf *plan, uint32_t kind, const struct subids *s, unsigned own) {
  if (s->n == 0) return;
  struct buf args = {0};
  char part[64];
  snprintf(part, sizeof part, "0 %u 1", own);
  buf_add(&args, part, strlen(part));
  unsigned long next = 1;
  for (int i = 0; i < s->n; i++) {
    snprintf(part, sizeof part, " %lu %lu %lu", next, s->start[i], s->count[i]);
    buf_add(&args, part, strlen(part));
    next += s->count[i];
  }
  struct buf p = {0};
  buf_u32(&p, kind);
  buf_str(&p, s->tool), buf_str(&p, buf_cstr(&args));
  plan_record(plan, TAG_ID_MAP, &p);
  free(p.p);
  free(args.p);
}

static char *in(const struct run *r, const char *path) {
  return str_cat(r->rootfs, path, "");
}

/* container-spec.ts systemMounts then etcMounts for a foreground run (no --ipc host; /dev/shm's
   size the default unless --shm-size), as plan.ts mountStep makes them: the mounts before the -v
   binds, in order. */
const struct system_mount SYSTEM_MOUNTS[] = {
    {"/proc", "proc", "proc", "", MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, OP_MKDIR | OP_NO_SYMLINKS, SYSTEM_PLAIN},
    {"/dev", "tmpfs", "tmpfs", "mode=755,size=65536k", MS_NOSUID_ | MS_STRICTATIME_, OP_MKDIR, SYSTEM_DEV},
    {"/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620", MS_NOSUID_ | MS_NOEXEC_, OP_MKDIR, SYSTEM_DEVPTS},
    {"/dev/shm", "shm", "tmpfs", "mode=1777,size=65536k", MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, OP_MKDIR, SYSTEM_PLAIN},
    {"/dev/mqueue", "mqueue", "mqueue", "", MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, OP_MKDIR, SYSTEM_PLAIN},
    {"/sys", "sysfs", "sysfs", "", MS_RDONLY_ | MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, OP_MKDIR | OP_NO_SYMLINKS, SYSTEM_SYS},
    {"/etc/hosts", "hosts", "", "", MS_BIND_ | MS_NOSUID_ | MS_NODEV_, OP_MKFILE, SYSTEM_ETC_FILE},
    {"/etc/hostname", "hostname", "", "", MS_BIND_ | MS_NOSUID_ | MS_NODEV_, OP_MKFILE, SYSTEM_ETC_FILE},
    {"/etc/resolv.conf", "resolv.conf", "", "", MS_BIND_ | MS_NOSUID_ | MS_NODEV_, OP_MKFILE, SYSTEM_ETC_FILE},
    {NULL, NULL, NULL, NULL, 0, 0, SYSTEM_PLAIN},
};

int in_system_mount(const char *path) {
  for (const struct system_mount *m = SYSTEM_MOUNTS; m->target != NULL; m++)
    if (path_beneath(path, m->target)) return 1;
  return 0;
}

static void filesystem(const struct run *r, struct buf *plan) {
  for (const struct system_mount *m = SYSTEM_MOUNTS; m->target != NULL; m++) {
    if (m->kind == SYSTEM_SYS && r->host_network) { /* no network namespace of its own: the host's /sys, bound read-only */
      record_mount(plan, MS_BIND_ | MS_REC_ | MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, OP_MKDIR | OP_REMOUNT_RO | OP_NO_SYMLINKS, "/sys",
                in(r, "/sys"), "", "");
      continue;
    }
    const char *source = m->kind == SYSTEM_ETC_FILE ? str_cat(r->etc_dir, "/", m->source) : m->source;
    /* plan.ts adaptRootless: devpts' gid=5 only when gid 5 is mapped (0, or 1..total). */
    const char *data = m->kind == SYSTEM_DEVPTS && r->subgid.total >= 5 ? str_cat(m->data, ",gid=5", "") : m->data;
    char shm[64];
    if (r->shm_kib > 0 && strcmp(m->target, "/dev/shm") == 0) /* --shm-size */
      snprintf(shm, sizeof shm, "mode=1777,size=%lluk", r->shm_kib), data = shm;
    record_mount(plan, m->flags, m->ops, source, in(r, m->target), m->fstype, data);
    if (m->kind != SYSTEM_DEV) continue;
    for (const char *const *d = DEVICES; *d != NULL; d++) /* devices.ts devSteps: the host's, bound */
      record_mount(plan, MS_BIND_, OP_MKFILE, *d, in(r, *d), "", "");
    for (int i = 0; DEV_LINKS[i][0] != NULL; i++) record_strs(plan, TAG_SYMLINK, DEV_LINKS[i][0], in(r, DEV_LINKS[i][1]));
  }
  for (int i = 0; i < r->ntmpfs; i++) /* blueprint.ts: the --tmpfs mounts before the -v binds */
    record_mount(plan, r->tmpfs[i].flags, OP_MKDIR, "tmpfs", r->tmpfs[i].target, "tmpfs", r->tmpfs[i].data);
  for (int i = 0; i < r->nvolumes; i++) { /* blueprint.ts volumeMount: rbind,nosuid,nodev; ro takes a remount */
    const struct volume *v = &r->volumes[i];
    record_mount(plan, MS_BIND_ | MS_REC_ | MS_NOSUID_ | MS_NODEV_, (v->dir ? OP_MKDIR : OP_MKFILE) | (v->readonly ? OP_REMOUNT_RO : 0),
              v->source, v->target, "", "");
  }
  for (int i = 0; MASKED[i] != NULL; i++) record_strs(plan, TAG_MASK, in(r, MASKED[i]), NULL);
  for (int i = 0; READONLY[i] != NULL; i++) record_strs(plan, TAG_READONLY, in(r, READONLY[i]), NULL);
}

/* host-env.ts HOST_ENV_BLOCKED and HOST_ENV_BLOCKED_PREFIXES: what --env-host never passes. */
static const char *const HOST_ENV_BLOCKED[] = {"PATH",        "HOME",        "HOSTNAME",       "PWD",          "OLDPWD",
                                               "SHLVL",       "_",           "LD_PRELOAD",     "LD_LIBRARY_PATH", "LD_AUDIT",
                                               "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "SSH_AUTH_SOCK", "NOTIFY_SOCKET",
                                               "LISTEN_FDS",  "LISTEN_PID",  "LISTEN_FDNAMES", "REGISTRY_AUTH_FILE", NULL};
static const char *const HOST_ENV_BLOCKED_PREFIXES[] = {"HUTCH_", "CONTAINERS_", "BASH_FUNC_", NULL};

/* host-env.ts hostEnvironment(process.env, 'all'): the caller's K=V entries, as process.env lists
   them (node_environ), but the blocked names; NULL-terminated. */
static char **host_environment(void) {
  char **all = node_environ();
  size_t k = 0;
  for (char **e = all; *e != NULL; e++) {
    size_t n = strcspn(*e, "=");
    int blocked = 0;
    for (const char *const *b = HOST_ENV_BLOCKED; *b != NULL && !blocked; b++) blocked = strlen(*b) == n && strncmp(*b, *e, n) == 0;
    for (const char *const *p = HOST_ENV_BLOCKED_PREFIXES; *p != NULL && !blocked; p++) blocked = strncmp(*p, *e, strlen(*p)) == 0;
    if (!blocked) all[k++] = *e;
  }
  all[k] = NULL;
  return all;
}

/* container-spec.ts environment: PATH, HOSTNAME and HOME first (TERM=xterm after them with -t), then
   --env-host's, the image's Env, --env-file's and -e's (blueprint.ts lookUpEnv: K=V as given, a bare
   K the caller's value or nothing, "=V" nothing); a name set again keeps its place (a Map) with the
   last value. */
static void environment(const struct run *r, const char *hostname, struct buf *plan) {
  int n = 3, nhost = 0;
  /* --env-host: the caller's first (blueprint.ts defaultEnv; image-config.ts, before the image's Env) */
  char **host = r->env_host ? host_environment() : NULL;
  while (host != NULL && host[nhost] != NULL) nhost++;
  const char **entries = calloc((size_t)(nhost + r->nenv) + 1, sizeof(char *));
  size_t size = (size_t)(nhost + r->nenv) + 4;
  const char **names = calloc(size, sizeof(char *)), **values = calloc(size, sizeof(char *));
  if (entries == NULL || names == NULL || values == NULL) fall_back("out of memory");
  for (int i = 0; i < nhost; i++) entries[i] = host[i];
  for (int i = 0; i < r->nenv; i++) entries[nhost + i] = r->env[i];
  names[0] = "PATH", values[0] = DEFAULT_PATH + 5;
  names[1] = "HOSTNAME", values[1] = hostname;
  names[2] = "HOME", values[2] = *r->home ? r->home : "/root";
  if (r->tty) names[n] = "TERM", values[n++] = "xterm";
  for (int i = 0; i < nhost + r->nenv; i++) {
    const char *e = entries[i], *eq = strchr(e, '=');
    char *name, *value;
    if (eq == e) continue;
    if (eq == NULL) {
      for (const char *c = e; *c; c++) /* process.env[K]: a plain name, looked up as getenv does */
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' || (c > e && *c >= '0' && *c <= '9')))
          fall_back("-e with a name it does not look up");
      const char *host = getenv(e);
      if (host == NULL) continue;
      name = strdup(e), value = strdup(host);
    } else {
      name = strndup(e, (size_t)(eq - e)), value = strdup(eq + 1);
    }
    int at = 0;
    while (at < n && strcmp(names[at], name) != 0) at++;
    if (at == n) n++;
    names[at] = name, values[at] = value;
  }
  for (int i = 0; i < n; i++) record_strs(plan, TAG_ENV, str_cat(names[i], "=", values[i]), NULL);
}

void build_run_plan(const struct run *r, struct buf *plan) {
  const char *hostname = r->hostname;
  buf_u32(plan, WIRE_MAGIC), buf_u32(plan, WIRE_VERSION);
  record_u32(plan, TAG_PDEATHSIG, 9 /* SIGKILL */);
  /* setup.ts prepareLaunch: an image's container joins its union holder's user namespace (mapped
     by the holder's start) and a copy of its mount namespace, where the union is mounted. */
  if (r->image.ref != NULL) {
    char ns[64];
    /* with slirp4netns, the network namespace made ahead by the forwarder too */
    static const struct { uint32_t type; const char *name; } JOINS[] = {
        {CLONE_NEWUSER_, "user"}, {CLONE_NEWNS_, "mnt"}, {CLONE_NEWNET_, "net"}};
    for (int i = 0; i < (r->netns_holder > 0 ? 3 : 2); i++) {
      struct buf p = {0};
      snprintf(ns, sizeof ns, "/proc/%d/ns/%s", (int)(i == 2 ? r->netns_holder : r->holder), JOINS[i].name);
      buf_u32(&p, JOINS[i].type), buf_str(&p, ns);
      plan_record(plan, TAG_SETNS, &p);
      free(p.p);
    }
  }
  uint32_t clone = (r->image.ref != NULL ? 0 : CLONE_NEWUSER_) | CLONE_NEWNS_ | CLONE_NEWPID_ | CLONE_NEWUTS_ | CLONE_NEWIPC_ | CLONE_NEWCGROUP_;
  int own_netns = !r->host_network && r->netns_holder <= 0;
  record_u32(plan, TAG_CLONE_FLAGS, clone | (own_netns ? CLONE_NEWNET_ : 0));
  if (r->image.ref == NULL) {
    id_map(plan, 0, &r->subuid, r->uid);
    id_map(plan, 1, &r->subgid, r->gid);
  }
  record_u32(plan, TAG_PROPAGATION, MS_REC_ | MS_SLAVE_);
  record_strs(plan, TAG_ROOTFS, r->rootfs, NULL);
  filesystem(r, plan);
  if (r->read_only) plan_record(plan, TAG_READONLY_ROOT, &(struct buf){0}); /* nsexec.ts: after the mounts */
  record_strs(plan, TAG_HOSTNAME, hostname, NULL);
  if (own_netns) plan_record(plan, TAG_LOOPBACK, &(struct buf){0});
  for (int i = 0; i < r->nulimits; i++) { /* nsexec.ts: after the loopback, before the terminal */
    struct buf l = {0};
    buf_u32(&l, r->ulimits[i].resource), buf_u64(&l, r->ulimits[i].soft), buf_u64(&l, r->ulimits[i].hard);
    plan_record(plan, TAG_RLIMIT, &l);
    free(l.p);
  }
  if (r->tty) plan_record(plan, TAG_TERMINAL, &(struct buf){0}); /* nsexec.ts: after the umask (none here), before the cwd */
  record_strs(plan, TAG_CWD, r->workdir != NULL ? r->workdir : "/", NULL);
  struct buf p = {0};
  buf_u32(&p, (uint32_t)r->user_uid), buf_u32(&p, (uint32_t)r->user_gid);
  plan_record(plan, TAG_USER, &p);
  p.len = 0;
  /* container-spec.ts: the groups the gid map holds (0, or 1..total); none at all (no setgroups)
     where the gid map is the user's own gid alone, which denies setgroups (foreground.ts idMaps). */
  uint32_t mapped = 0;
  for (int i = 0; i < r->ngroups; i++) mapped += r->groups[i] <= r->subgid.total;
  buf_u32(&p, mapped);
  for (int i = 0; i < r->ngroups; i++)
    if (r->groups[i] <= r->subgid.total) buf_u32(&p, (uint32_t)r->groups[i]);
  if (r->subgid.n > 0) plan_record(plan, TAG_GROUPS, &p);
  p.len = 0;
  for (int i = 0; i < 3; i++) buf_u64(&p, r->caps); /* bounding, effective, permitted */
  buf_u64(&p, 0), buf_u64(&p, 0);                      /* inheritable, ambient */
  plan_record(plan, TAG_CAPS, &p);
  if (r->no_new_privileges) plan_record(plan, TAG_NO_NEW_PRIVS, &(struct buf){0}); /* nsexec.ts: before the filter */
  plan_record(plan, TAG_SECCOMP, &r->seccomp);
  for (char **a = r->args; *a != NULL; a++) record_strs(plan, TAG_ARG, *a, NULL);
  environment(r, hostname, plan);
  if (r->init) plan_record(plan, TAG_INIT, &(struct buf){0}); /* nsexec.ts: after the environment */
  if (r->slirp && own_netns) record_strs(plan, TAG_TAP, "tap0", NULL); /* net/slirp.ts SLIRP_TAP, made before slirp4netns starts */
  free(p.p);
}
