/*
 * `create`'s config.json in the C front: the shapes engines write for a rootless container
 * (podman's, `runc spec --rootless` less its user namespace), checked as src/runtime/validate.ts
 * parseSpec checks them and carried through src/runtime/plan.ts planFromSpec into the plan
 * src/runtime/nsexec.ts encodePlan writes: the same records in the same order, byte for byte
 * (test/integration/runtime-front-create.test.ts compares them). Anything else in the spec (a
 * namespace path, hooks, devices, resources, a terminal without a console
 * socket, oomScoreAdj,
 * labels, a field this file does not name) is FALLBACK: the Node verb creates the container.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "front.h"
#include "runtime-front.h"
#include "wire.h"

enum {
  NEWNS = 0x20000, NEWCGROUP = 0x2000000, NEWUSER = 0x10000000, NEWUTS = 0x4000000, NEWIPC = 0x8000000, NEWPID = 0x20000000, NEWNET = 0x40000000,
  MS_UNBINDABLE_ = 0x20000, MS_PRIVATE_ = 0x40000, MS_SHARED_ = 0x100000,
};

/* ---- reading the checked document (front-json.c) ---- */

/* A string value (UTF-8, no NUL inside: the wire's strings are C strings here), or NULL. */
static char *text_of(struct jv v) {
  char *s;
  size_t n;
  if (json_str(v, &s, &n) < 0) return NULL;
  if (strlen(s) != n) return free(s), NULL;
  return s;
}

static int is_object(struct jv v) {
  return v.n > 0 && *v.p == '{';
}

static int is_array(struct jv v) {
  return v.n > 0 && *v.p == '[';
}

/* Whether `obj` is an object whose every key is in `allowed` (NULL-ended). */
static int keys_within(struct jv obj, const char *const *allowed) {
  struct jiter it;
  struct jv k, v;
  if (!is_object(obj)) return 0;
  json_iter(&it, obj);
  while (json_next(&it, &k, &v)) {
    int known = 0;
    for (const char *const *a = allowed; *a != NULL && !known; a++)
      known = k.n == strlen(*a) + 2 && memcmp(k.p + 1, *a, k.n - 2) == 0;
    if (!known) return 0;
  }
  return 1;
}

static int boolean(struct jv v, int *out) {
  if (v.n == 4 && memcmp(v.p, "true", 4) == 0) return *out = 1, 1;
  if (v.n == 5 && memcmp(v.p, "false", 5) == 0) return *out = 0, 1;
  return 0;
}

/* validate.ts uint: a whole number from 0 to 4294967295. */
static int uint32_of(struct jv v, uint32_t *out) {
  long long n;
  if (!json_int(v, &n) || n < 0 || n > 0xffffffffLL) return 0;
  return *out = (uint32_t)n, 1;
}

/* An array of strings (NULL-ended, malloc'd), or NULL when `v` is not one. */
static char **strings_of(struct jv v, int *count) {
  struct jiter it;
  struct jv k, item;
  int n = 0;
  if (!is_array(v)) return NULL;
  json_iter(&it, v);
  while (json_next(&it, &k, &item)) n++;
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (out == NULL) return NULL;
  json_iter(&it, v);
  for (int i = 0; json_next(&it, &k, &item); i++)
    if ((out[i] = text_of(item)) == NULL) return NULL;
  if (count != NULL) *count = n;
  return out;
}

/* ---- the spec as the plan needs it ---- */

struct mount {
  char *destination, *type, *source; /* type and source NULL when absent */
  char **options;
  int noptions;
};

struct spec {
  char **args, **env, **masked, **readonly;
  int nargs, nenv, nmounts;
  char *cwd, *hostname, *propagation;
  uint32_t uid, gid, umask, *gids;
  int has_umask, ngids, has_gids, no_new_privs, readonly_root, has_caps, terminal;
  uint64_t caps[5]; /* bounding, effective, permitted, inheritable, ambient */
  struct { uint32_t resource; uint64_t soft, hard; } rlimits[16];
  int nrlimits;
  struct mount *mounts;
  uint32_t namespaces; /* CLONE_NEW* of linux.namespaces (none has a path) */
  struct id_map { uint32_t inside, host, size; } *maps[2]; /* linux.uidMappings, gidMappings */
  int nmaps[2];
  struct jv sysctl;    /* the object, or n == 0 */
};

/* linux.ts capabilityMask: "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN"; 0 for a name it would refuse. */
static int capability_mask(struct jv list, uint64_t *mask) {
  int n;
  char **names = strings_of(list, &n);
  if (names == NULL) return 0;
  for (int i = 0; i < n; i++) {
    int bit = capability_number(names[i], strlen(names[i])); /* beyond ASCII: none, Node's case */
    if (bit < 0) return 0;
    *mask |= 1ull << bit;
  }
  return 1;
}

static const char *const RLIMITS[] = {"RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
                                      "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
                                      "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
                                      "RLIMIT_RTPRIO", "RLIMIT_RTTIME", NULL};

static int rlimits_of(struct jv list, struct spec *s) {
  static const char *const KEYS[] = {"type", "hard", "soft", NULL};
  struct jiter it;
  struct jv k, item, type, hard, soft;
  if (!is_array(list)) return 0;
  json_iter(&it, list);
  while (json_next(&it, &k, &item)) {
    long long h, so;
    if (s->nrlimits == 16 || !keys_within(item, KEYS) || !json_member(item, "type", &type) ||
        !json_member(item, "hard", &hard) || !json_member(item, "soft", &soft) || !json_int(hard, &h) ||
        !json_int(soft, &so) || h < 0 || so < 0)
      return 0;
    char *name = text_of(type);
    int r = 0;
    while (name != NULL && RLIMITS[r] != NULL && strcmp(RLIMITS[r], name) != 0) r++;
    if (name == NULL || RLIMITS[r] == NULL) return 0;
    s->rlimits[s->nrlimits].resource = (uint32_t)r;
    s->rlimits[s->nrlimits].soft = (uint64_t)so, s->rlimits[s->nrlimits].hard = (uint64_t)h;
    s->nrlimits++;
  }
  return 1;
}

static int process_of(struct jv proc, struct spec *s, int console) {
  static const char *const KEYS[] = {"user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges",
                                     "terminal", "consoleSize", NULL};
  static const char *const USER[] = {"uid", "gid", "umask", "additionalGids", NULL};
  static const char *const CAPS[] = {"bounding", "effective", "permitted", "inheritable", "ambient", NULL};
  struct jv v, user, uid, gid;
  if (!keys_within(proc, KEYS)) return 0;
  /* a pty goes to the console socket (the helper sends it); without one, Node says so */
  if (json_member(proc, "terminal", &v) && !boolean(v, &s->terminal)) return 0;
  if (s->terminal && !console) return 0;
  if (!json_member(proc, "args", &v) || (s->args = strings_of(v, &s->nargs)) == NULL || s->nargs == 0) return 0;
  if (!json_member(proc, "cwd", &v) || (s->cwd = text_of(v)) == NULL || s->cwd[0] != '/') return 0;
  if (json_member(proc, "env", &v) ? (s->env = strings_of(v, &s->nenv)) == NULL : (s->env = calloc(1, sizeof(char *))) == NULL)
    return 0;
  if (!json_member(proc, "user", &user) || !keys_within(user, USER) || !json_member(user, "uid", &uid) ||
      !json_member(user, "gid", &gid) || !uint32_of(uid, &s->uid) || !uint32_of(gid, &s->gid))
    return 0;
  if (json_member(user, "umask", &v) && (!uint32_of(v, &s->umask) || !(s->has_umask = 1))) return 0;
  if (json_member(user, "additionalGids", &v)) {
    struct jiter it;
    struct jv k, g;
    if (!is_array(v) || (s->gids = calloc(v.n, sizeof *s->gids)) == NULL) return 0;
    json_iter(&it, v);
    while (json_next(&it, &k, &g))
      if (!uint32_of(g, &s->gids[s->ngids++])) return 0;
    s->has_gids = 1;
  }
  if (json_member(proc, "noNewPrivileges", &v) && !boolean(v, &s->no_new_privs)) return 0;
  if (json_member(proc, "rlimits", &v) && !rlimits_of(v, s)) return 0;
  if (json_member(proc, "capabilities", &v)) {
    if (!keys_within(v, CAPS)) return 0;
    for (int i = 0; i < 5; i++) {
      struct jv list;
      if (json_member(v, CAPS[i], &list) && !capability_mask(list, &s->caps[i])) return 0;
    }
    s->caps[3] |= s->caps[4]; /* plan.ts: an ambient capability is inheritable too */
    s->has_caps = 1;
  }
  return 1;
}

static int mounts_of(struct jv list, struct spec *s) {
  static const char *const KEYS[] = {"destination", "type", "source", "options", NULL};
  struct jiter it;
  struct jv k, m, v;
  if (!is_array(list) || (s->mounts = calloc(list.n, sizeof *s->mounts)) == NULL) return 0;
  json_iter(&it, list);
  while (json_next(&it, &k, &m)) {
    struct mount *out = &s->mounts[s->nmounts++];
    if (!keys_within(m, KEYS) || !json_member(m, "destination", &v) || (out->destination = text_of(v)) == NULL ||
        out->destination[0] != '/')
      return 0;
    if (json_member(m, "type", &v) && (out->type = text_of(v)) == NULL) return 0;
    if (json_member(m, "source", &v) && (out->source = text_of(v)) == NULL) return 0;
    if (json_member(m, "options", &v) ? (out->options = strings_of(v, &out->noptions)) == NULL
                                      : (out->options = calloc(1, sizeof(char *))) == NULL)
      return 0;
  }
  return 1;
}

static int namespaces_of(struct jv list, struct spec *s) {
  static const struct { const char *name; uint32_t flag; } TYPES[] = {
      {"\"user\"", NEWUSER}, {"\"mount\"", NEWNS}, {"\"pid\"", NEWPID}, {"\"uts\"", NEWUTS}, {"\"ipc\"", NEWIPC},
      {"\"network\"", NEWNET}, {"\"cgroup\"", NEWCGROUP}, {NULL, 0}}; /* time: Node */
  static const char *const KEYS[] = {"type", NULL};
  struct jiter it;
  struct jv k, ns, type;
  if (!is_array(list)) return 0;
  json_iter(&it, list);
  while (json_next(&it, &k, &ns)) {
    if (!keys_within(ns, KEYS) || !json_member(ns, "type", &type)) return 0; /* a path: Node */
    int t = 0;
    while (TYPES[t].name != NULL && !(type.n == strlen(TYPES[t].name) && memcmp(type.p, TYPES[t].name, type.n) == 0)) t++;
    if (TYPES[t].name == NULL || (s->namespaces & TYPES[t].flag)) return 0; /* unknown, or given twice: Node says so */
    s->namespaces |= TYPES[t].flag;
  }
  return 1;
}

/* validate.ts: containerID, hostID and size ids, size at least 1. */
static int id_maps_of(struct jv list, struct id_map **out, int *n) {
  static const char *const KEYS[] = {"containerID", "hostID", "size", NULL};
  struct jiter it;
  struct jv k, m, c, h, z;
  if (!is_array(list) || (*out = calloc(list.n, sizeof **out)) == NULL) return 0;
  json_iter(&it, list);
  while (json_next(&it, &k, &m)) {
    struct id_map *map = &(*out)[(*n)++];
    if (!keys_within(m, KEYS) || !json_member(m, "containerID", &c) || !json_member(m, "hostID", &h) ||
        !json_member(m, "size", &z) || !uint32_of(c, &map->inside) || !uint32_of(h, &map->host) || !uint32_of(z, &map->size) ||
        map->size == 0)
      return 0;
  }
  return 1;
}

static int linux_of(struct jv linux_obj, struct spec *s) {
  static const char *const KEYS[] = {"sysctl", "resources", "namespaces", "seccomp", "maskedPaths", "readonlyPaths",
                                     "rootfsPropagation", "uidMappings", "gidMappings", NULL};
  static const char *const SECCOMP[] = {"defaultAction", "defaultErrnoRet", "architectures", "syscalls", NULL};
  struct jv v;
  if (!keys_within(linux_obj, KEYS)) return 0;
  /* resources: none asked (a limit needs the cgroup code: Node) */
  if (json_member(linux_obj, "resources", &v) && !(v.n == 2 && memcmp(v.p, "{}", 2) == 0)) return 0;
  if (json_member(linux_obj, "namespaces", &v) && !namespaces_of(v, s)) return 0;
  if (json_member(linux_obj, "uidMappings", &v) && !id_maps_of(v, &s->maps[0], &s->nmaps[0])) return 0;
  if (json_member(linux_obj, "gidMappings", &v) && !id_maps_of(v, &s->maps[1], &s->nmaps[1])) return 0;
  /* maps without a user namespace (Node refuses them), or a user namespace without both: Node */
  if ((s->namespaces & NEWUSER) ? s->nmaps[0] == 0 || s->nmaps[1] == 0 : s->nmaps[0] + s->nmaps[1] > 0) return 0;
  if (json_member(linux_obj, "seccomp", &v) && !keys_within(v, SECCOMP)) return 0; /* flags, listenerPath: Node */
  if (json_member(linux_obj, "maskedPaths", &v) && (s->masked = strings_of(v, NULL)) == NULL) return 0;
  if (json_member(linux_obj, "readonlyPaths", &v) && (s->readonly = strings_of(v, NULL)) == NULL) return 0;
  if (json_member(linux_obj, "rootfsPropagation", &v) && (s->propagation = text_of(v)) == NULL) return 0;
  if (json_member(linux_obj, "sysctl", &v)) {
    if (!is_object(v)) return 0;
    s->sysctl = v;
  }
  return 1;
}

/* validate.ts checkVersion: 1.0.x to 1.2.x, pre-releases and builds ([\w.-]+ each) included. */
static int version_ok(const char *v) {
  static const char *const WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
  if (v[0] != '1' || v[1] != '.' || v[2] < '0' || v[2] > '2' || v[3] != '.') return 0;
  size_t digits = strspn(v + 4, "0123456789");
  if (digits == 0) return 0;
  const char *p = v + 4 + digits;
  if (*p == '-') {
    size_t n = strspn(p + 1, WORD);
    if (n == 0) return 0;
    p += 1 + n;
  }
  if (*p == '+') {
    size_t n = strspn(p + 1, WORD);
    if (n == 0) return 0;
    p += 1 + n;
  }
  return *p == 0;
}

int spec_read(struct jv doc, int console, struct spec **out) {
  static const char *const KEYS[] = {"ociVersion", "process", "root", "hostname", "mounts", "annotations", "linux", NULL};
  static const char *const ROOT[] = {"path", "readonly", NULL};
  struct spec *s = calloc(1, sizeof *s);
  struct jv v, root;
  char *version;
  if (s == NULL || !keys_within(doc, KEYS)) return -1;
  if (!json_member(doc, "ociVersion", &v) || (version = text_of(v)) == NULL || !version_ok(version)) return -1;
  if (!json_member(doc, "process", &v) || !process_of(v, s, console)) return -1;
  if (!json_member(doc, "root", &root) || !keys_within(root, ROOT) || !json_member(root, "path", &v) || text_of(v) == NULL)
    return -1;
  if (json_member(root, "readonly", &v) && !boolean(v, &s->readonly_root)) return -1;
  if (json_member(doc, "hostname", &v) && (s->hostname = text_of(v)) == NULL) return -1;
  if (json_member(doc, "mounts", &v) && !mounts_of(v, s)) return -1;
  if (json_member(doc, "annotations", &v) && !is_object(v)) return -1;
  if (json_member(doc, "linux", &v) && !linux_of(v, s)) return -1;
  if (!(s->namespaces & NEWNS)) return -1; /* a container without its own mount namespace: Node */
  *out = s;
  return 0;
}

int spec_terminal(const struct spec *s) {
  return s->terminal;
}

int spec_id_map(const struct spec *s, int kind, uint32_t own, char **text, int *own_alone) {
  if (!(s->namespaces & NEWUSER)) return 0;
  struct buf b = {0};
  char line[48];
  for (int i = 0; i < s->nmaps[kind]; i++) { /* idmap.ts mapText */
    snprintf(line, sizeof line, "%u %u %u\n", s->maps[kind][i].inside, s->maps[kind][i].host, s->maps[kind][i].size);
    buf_add(&b, line, strlen(line));
  }
  *text = buf_cstr(&b);
  free(b.p);
  /* idmap.ts needsHelper: the caller's own id alone needs no tool */
  *own_alone = s->nmaps[kind] == 1 && s->maps[kind][0].host == own && s->maps[kind][0].size == 1;
  return 1;
}

/* ---- the plan (plan.ts planFromSpec, nsexec.ts planRecords) ---- */

/* linux.ts FLAG_OPTIONS: what an option sets and clears; NULL name ends. */
static const struct { const char *name; uint32_t set, clear; } FLAG_OPTIONS[] = {
    {"ro", MS_RDONLY_, 0}, {"rw", 0, MS_RDONLY_}, {"nosuid", MS_NOSUID_, 0}, {"suid", 0, MS_NOSUID_},
    {"nodev", MS_NODEV_, 0}, {"dev", 0, MS_NODEV_}, {"noexec", MS_NOEXEC_, 0}, {"exec", 0, MS_NOEXEC_},
    {"sync", MS_SYNCHRONOUS_, 0}, {"dirsync", MS_DIRSYNC_, 0}, {"noatime", MS_NOATIME_, 0},
    {"nodiratime", MS_NODIRATIME_, 0}, {"relatime", MS_RELATIME_, 0}, {"strictatime", MS_STRICTATIME_, 0},
    {"bind", MS_BIND_, 0}, {"rbind", MS_BIND_ | MS_REC_, 0}, {"private", 0, 0}, {"rprivate", 0, 0}, {"slave", 0, 0},
    {"rslave", 0, 0}, {"shared", 0, 0}, {"rshared", 0, 0}, {"unbindable", 0, 0}, {"runbindable", 0, 0}, {NULL, 0, 0}};

/* plan.ts mountStep with linux.ts mountOptions (tmpcopyup and notmpcopyup taken out first). */
static void mount_step(struct buf *plan, const char *type, const char *source, char **options, int noptions,
                       const char *target, uint32_t extra_ops) {
  uint32_t flags = 0, copy_up = 0;
  struct buf data = {0};
  for (int i = 0; i < noptions; i++) {
    if (strcmp(options[i], "tmpcopyup") == 0 || strcmp(options[i], "notmpcopyup") == 0) {
      copy_up |= type != NULL && strcmp(type, "tmpfs") == 0 && strcmp(options[i], "tmpcopyup") == 0;
      continue;
    }
    int f = 0;
    while (FLAG_OPTIONS[f].name != NULL && strcmp(FLAG_OPTIONS[f].name, options[i]) != 0) f++;
    if (FLAG_OPTIONS[f].name != NULL) {
      flags = (flags | FLAG_OPTIONS[f].set) & ~FLAG_OPTIONS[f].clear;
      continue;
    }
    if (data.len > 0) buf_add(&data, ",", 1);
    buf_add(&data, options[i], strlen(options[i]));
  }
  if (type != NULL && strcmp(type, "bind") == 0) flags |= MS_BIND_;
  const char *from = source != NULL ? source : type != NULL ? type : "";
  char *text = buf_cstr(&data);
  if (!(flags & MS_BIND_)) {
    record_mount(plan, flags, OP_MKDIR | (copy_up ? MOUNT_OP_COPYUP : 0) | extra_ops, from, target, type != NULL ? type : "",
                 text);
  } else {
    int dir = is_directory(from); /* a bind's read-only flag takes a remount */
    record_mount(plan, flags & ~(uint32_t)MS_RDONLY_,
                 (dir ? OP_MKDIR : OP_MKFILE) | (flags & MS_RDONLY_ ? OP_REMOUNT_RO : 0) | extra_ops, from, target, "", "");
  }
  free(text), free(data.p);
}

/* Gids mapped where the container runs: its own user namespace's gidMappings, else /proc/self/gid_map. */
static int gid_mapped(const struct spec *s, uint32_t gid) {
  if (s->namespaces & NEWUSER) {
    for (int i = 0; i < s->nmaps[1]; i++)
      if (gid >= s->maps[1][i].inside && (uint64_t)gid < (uint64_t)s->maps[1][i].inside + s->maps[1][i].size) return 1;
    return 0;
  }
  struct buf map = {0};
  int mapped = 0;
  if (read_text("/proc/self/gid_map", &map) != 0) return 0;
  char *text = buf_cstr(&map), *line = text;
  for (char *end; *line; line = *end ? end + 1 : end) {
    end = strchrnul(line, '\n');
    unsigned long inside_id, host, size;
    if (sscanf(line, "%lu %lu %lu", &inside_id, &host, &size) == 3 && gid >= inside_id && gid < inside_id + size) mapped = 1;
  }
  free(text), free(map.p);
  return mapped;
}

/* plan.ts adaptRootless then mountStep, for one of the spec's mounts. What a user namespace forbids
   is the host's, bound: proc without a PID namespace of its own, mqueue without an IPC one, sysfs
   without a network one, cgroup without a cgroup one (cgroup2 with one); devpts' gid= only when mapped. */
static void spec_mount(struct buf *plan, const struct spec *s, const struct mount *m, const char *target) {
  static char *HOST_BIND[] = {"rbind", "nosuid", "noexec", "nodev", "ro"};
  const char *type = m->type != NULL ? m->type : "", *source = m->source;
  char **options = m->options;
  int noptions = m->noptions;
  /* proc and sysfs must sit on an ordinary directory (runc), whatever they became */
  uint32_t no_symlinks = strcmp(type, "proc") == 0 || strcmp(type, "sysfs") == 0 ? OP_NO_SYMLINKS : 0;
  int host_ro = -1;
  if (strcmp(type, "proc") == 0 && !(s->namespaces & NEWPID)) source = "/proc", host_ro = 0;
  else if (strcmp(type, "mqueue") == 0 && !(s->namespaces & NEWIPC)) source = "/dev/mqueue", host_ro = 0;
  else if (strcmp(type, "cgroup") == 0 && (s->namespaces & NEWCGROUP)) type = "cgroup2", source = "cgroup2";
  else if (strcmp(type, "cgroup") == 0) source = "/sys/fs/cgroup", host_ro = 1;
  else if (strcmp(type, "sysfs") == 0 && !(s->namespaces & NEWNET)) source = "/sys", host_ro = 1;
  if (host_ro >= 0) type = "bind", options = HOST_BIND, noptions = host_ro ? 5 : 4;
  char **kept = NULL;
  if (strcmp(type, "devpts") == 0) {
    kept = calloc((size_t)noptions + 1, sizeof *kept);
    if (kept == NULL) abort();
    int n = 0;
    for (int i = 0; i < noptions; i++) {
      const char *o = options[i];
      size_t digits = strncmp(o, "gid=", 4) == 0 ? strspn(o + 4, "0123456789") : 0;
      int gid_option = digits > 0 && o[4 + digits] == 0;
      if (!gid_option || (digits <= 10 && strtoull(o + 4, NULL, 10) <= 0xffffffffu && gid_mapped(s, (uint32_t)strtoul(o + 4, NULL, 10))))
        kept[n++] = options[i];
    }
    options = kept, noptions = n;
  }
  /* the host's /dev/mqueue where the host has none: the container has none either */
  if (!(strcmp(type, "bind") == 0 && source != NULL && strcmp(source, "/dev/mqueue") == 0 && !is_directory("/dev/mqueue")))
    mount_step(plan, type, source, options, noptions, target, no_symlinks);
  free(kept);
}

/* Whether a mount's destination, trailing slashes dropped (or exactly, `exact`), is `path`. */
static int mounted(const struct spec *s, const char *path, int exact) {
  for (int i = 0; i < s->nmounts; i++) {
    const char *d = s->mounts[i].destination;
    size_t n = strlen(d);
    while (!exact && n > 0 && d[n - 1] == '/') n--;
    if (n == strlen(path) && strncmp(d, path, n) == 0) return 1;
  }
  return 0;
}

/* devices.ts devSteps (no linux.devices) after a /dev tmpfs; bareDevSteps (the devices alone) without one. */
static void dev_steps(struct buf *plan, const struct spec *s, const char *rootfs, int bare) {
  for (const char *const *d = DEVICES; *d != NULL; d++)
    if (bare || !mounted(s, *d, 1)) record_mount(plan, MS_BIND_, OP_MKFILE, *d, inside_root(rootfs, *d), "", "");
  if (bare) return;
  if (!mounted(s, "/dev/pts", 0))
    record_mount(plan, MS_NOSUID_ | MS_NOEXEC_, OP_MKDIR, "devpts", inside_root(rootfs, "/dev/pts"), "devpts",
                 "newinstance,ptmxmode=0666,mode=0620");
  if (!mounted(s, "/dev/shm", 0))
    record_mount(plan, MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, OP_MKDIR, "shm", inside_root(rootfs, "/dev/shm"), "tmpfs",
                 "mode=1777,size=65536k");
  for (int i = 0; DEV_LINKS[i][0] != NULL; i++) record_strs(plan, TAG_SYMLINK, DEV_LINKS[i][0], inside_root(rootfs, DEV_LINKS[i][1]));
}

/* sysctl.ts sysctlSteps; 0 for a key it refuses (Node says why). */
static int sysctl_steps(struct buf *plan, const struct spec *s) {
  static const char *const IPC[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                                    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", NULL};
  struct jiter it;
  struct jv k, v;
  if (s->sysctl.n == 0) return 1;
  json_iter(&it, s->sysctl);
  while (json_next(&it, &k, &v)) {
    char *key = text_of(k), *value = text_of(v);
    if (key == NULL || value == NULL) return 0; /* String(value) of another type: Node */
    for (char *c = key; *c; c++)
      if (*c == '/') *c = '.';
    uint32_t need = strncmp(key, "net.", 4) == 0 ? NEWNET
                    : strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0 ? NEWUTS
                    : strncmp(key, "fs.mqueue.", 10) == 0 ? NEWIPC : 0;
    for (int i = 0; IPC[i] != NULL && need == 0; i++)
      if (strcmp(IPC[i], key) == 0) need = NEWIPC;
    if (need == 0 || !(s->namespaces & need)) return 0;
    /* /^[\w-]+(\.[\w:@-]+)+$/ */
    size_t head = strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    if (head == 0 || key[head] != '.') return 0;
    for (const char *p = key + head; *p;) {
      if (*p != '.') return 0;
      size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:@-");
      if (n == 0) return 0;
      p += 1 + n;
    }
    char *path = str_cat("proc/sys/", key, "");
    for (char *c = path + 9; *c; c++)
      if (*c == '.') *c = '/';
    record_strs(plan, TAG_SYSCTL, path, value);
  }
  return 1;
}

static int propagation_flags(const char *name, uint32_t *out) {
  static const struct { const char *name; uint32_t flags; } TABLE[] = {
      {"shared", MS_SHARED_}, {"rshared", MS_REC_ | MS_SHARED_}, {"slave", MS_SLAVE_}, {"rslave", MS_REC_ | MS_SLAVE_},
      {"private", MS_PRIVATE_}, {"rprivate", MS_REC_ | MS_PRIVATE_}, {"unbindable", MS_UNBINDABLE_},
      {"runbindable", MS_REC_ | MS_UNBINDABLE_}, {NULL, 0}};
  for (int i = 0; TABLE[i].name != NULL; i++)
    if (strcmp(TABLE[i].name, name) == 0) return *out = TABLE[i].flags, 1;
  return 0;
}

int spec_plan(const struct spec *s, const struct create_plan *in, struct buf *plan) {
  uint32_t wanted = 0;
  int has_wanted = s->propagation != NULL && *s->propagation;
  if (has_wanted && !propagation_flags(s->propagation, &wanted)) return -1;
  int private_before = s->propagation != NULL && (strcmp(s->propagation, "private") == 0 || strcmp(s->propagation, "rprivate") == 0);
  buf_u32(plan, WIRE_MAGIC), buf_u32(plan, WIRE_VERSION);
  record_u32(plan, TAG_PDEATHSIG, 9 /* SIGKILL */);
  record_u32(plan, TAG_CLONE_FLAGS, s->namespaces);
  record_u32(plan, TAG_PROPAGATION, MS_REC_ | (private_before ? MS_PRIVATE_ : MS_SLAVE_));
  record_strs(plan, TAG_ROOTFS, in->rootfs, NULL);
  int dev_tmpfs = 0;
  for (int i = 0; i < s->nmounts; i++) {
    const struct mount *m = &s->mounts[i];
    char *target = inside_root(in->rootfs, m->destination);
    spec_mount(plan, s, m, target);
    free(target);
    if (strcmp(m->destination, "/dev") == 0 && m->type != NULL && strcmp(m->type, "tmpfs") == 0)
      dev_steps(plan, s, in->rootfs, 0), dev_tmpfs = 1;
  }
  if (!dev_tmpfs) dev_steps(plan, s, in->rootfs, 1);
  if (!sysctl_steps(plan, s)) return -1;
  for (char **p = s->masked; p != NULL && *p != NULL; p++) record_strs(plan, TAG_MASK, inside_root(in->rootfs, *p), NULL);
  for (char **p = s->readonly; p != NULL && *p != NULL; p++) record_strs(plan, TAG_READONLY, inside_root(in->rootfs, *p), NULL);
  if (s->readonly_root) plan_record(plan, TAG_READONLY_ROOT, &(struct buf){0});
  if ((s->namespaces & NEWUTS) && s->hostname != NULL) record_strs(plan, TAG_HOSTNAME, s->hostname, NULL);
  if (s->namespaces & NEWNET) plan_record(plan, TAG_LOOPBACK, &(struct buf){0});
  struct buf p = {0};
  for (int i = 0; i < s->nrlimits; i++) {
    p.len = 0;
    buf_u32(&p, s->rlimits[i].resource), buf_u64(&p, s->rlimits[i].soft), buf_u64(&p, s->rlimits[i].hard);
    plan_record(plan, TAG_RLIMIT, &p);
  }
  if (s->has_umask) record_u32(plan, TAG_UMASK, s->umask);
  if (s->terminal) plan_record(plan, TAG_TERMINAL, &(struct buf){0});
  record_strs(plan, TAG_CWD, s->cwd, NULL);
  p.len = 0;
  buf_u32(&p, s->uid), buf_u32(&p, s->gid);
  plan_record(plan, TAG_USER, &p);
  if (s->has_gids) {
    p.len = 0;
    buf_u32(&p, (uint32_t)s->ngids);
    for (int i = 0; i < s->ngids; i++) buf_u32(&p, s->gids[i]);
    plan_record(plan, TAG_GROUPS, &p);
  }
  if (s->has_caps) {
    p.len = 0;
    for (int i = 0; i < 5; i++) buf_u64(&p, s->caps[i]);
    plan_record(plan, TAG_CAPS, &p);
  }
  if (s->no_new_privs) plan_record(plan, TAG_NO_NEW_PRIVS, &(struct buf){0});
  if (in->seccomp != NULL) plan_record(plan, TAG_SECCOMP, in->seccomp);
  for (int i = 0; i < s->nargs; i++) record_strs(plan, TAG_ARG, s->args[i], NULL);
  int home = 0;
  for (int i = 0; i < s->nenv; i++) {
    record_strs(plan, TAG_ENV, s->env[i], NULL);
    home |= strncmp(s->env[i], "HOME=", 5) == 0;
  }
  plan_record(plan, TAG_DETACH, &(struct buf){0});
  record_strs(plan, TAG_START_FIFO, in->fifo, NULL);
  if (s->terminal) record_strs(plan, TAG_CONSOLE_SOCKET, in->console, NULL);
  if (has_wanted) record_u32(plan, TAG_ROOT_PROPAGATION, wanted);
  if (!home) plan_record(plan, TAG_HOME, &(struct buf){0});
  free(p.p);
  return 0;
}
