/*
 * What hutch-run-front reads before it makes anything (run-front.h): containers.conf, of which it
 * knows the subset Debian's podman ships (default_capabilities; keys hutch does not read are
 * ignored, as src/config/containers-conf.ts ignores them); the user's subordinate ranges of each
 * kind (merged; none: the user alone, its maps written here after the clone); newuidmap and
 * newgidmap on PATH; the container's user in the rootfs; the build's compiled seccomp filter for
 * the capability set; the store's filesystem (fs-probe.ts: its cache, or probed and cached as the
 * TypeScript path does). Anything beyond that is the TypeScript path's.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "run-front.h"

/* Node reads these files as UTF-8 text: NUL bytes or bad sequences would read otherwise. */
static char *text_of(struct buf *b) {
  if (memchr(b->p, '\0', b->len) != NULL) fall_back("a file holds a NUL byte");
  char *s = buf_cstr(b);
  if (!utf8_valid((const unsigned char *)s)) fall_back("a file is not UTF-8");
  return s;
}

/* linux.ts DEFAULT_CAPABILITIES (docker's set). */
static const char *const DEFAULT_CAPS = "CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP "
                                        "NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE";

/* capabilityName; an unknown one is the TypeScript path's error. */
static int cap_number(const char *name, size_t len) {
  int c = capability_number(name, len);
  if (c < 0) fall_back("an unknown capability");
  return c;
}

/* --- containers.conf: a strict subset of TOML; anything else goes to the TypeScript path --- */

struct toml {
  const char *s; /* the rest of the file */
  char table[128];
  char keys[64][160]; /* "table.key" seen, to refuse what TOML refuses (a key given twice) */
  int nkeys;
};

static void skip_blank(struct toml *t, int lines) {
  for (;;) {
    while (*t->s == ' ' || *t->s == '\t' || (lines && (*t->s == '\n' || *t->s == '\r'))) t->s++;
    if (*t->s != '#') return;
    while (*t->s != '\0' && *t->s != '\n') t->s++;
  }
}

/* A basic string without escapes; returns it (the caller frees). */
static char *toml_string(struct toml *t) {
  if (*t->s != '"') fall_back("containers.conf: a value it does not read");
  const char *end = strpbrk(t->s + 1, "\"\\\n");
  if (end == NULL || *end != '"') fall_back("containers.conf: a string with escapes or a line break");
  for (const char *c = t->s + 1; c < end; c++)
    if ((unsigned char)*c < 0x20 && *c != '\t') fall_back("containers.conf: a control character in a string");
  char *v = strndup(t->s + 1, (size_t)(end - t->s - 1));
  t->s = end + 1;
  return v;
}

/* A value: a string, an array of strings (its items joined by '\n' in *items), true/false or digits. */
static void toml_value(struct toml *t, struct buf *items) {
  if (*t->s == '"') {
    char *v = toml_string(t);
    buf_add(items, v, strlen(v) + 1);
    free(v);
  } else if (*t->s == '[') {
    t->s++;
    for (;;) {
      skip_blank(t, 1);
      if (*t->s == ']') break;
      char *v = toml_string(t);
      buf_add(items, v, strlen(v) + 1);
      free(v);
      skip_blank(t, 1);
      if (*t->s == ',') t->s++;
      else if (*t->s != ']') fall_back("containers.conf: an array it does not read");
    }
    t->s++;
  } else {
    size_t n = strspn(t->s, "0123456789");
    if (strncmp(t->s, "true", 4) == 0) n = 4;
    else if (strncmp(t->s, "false", 5) == 0) n = 5;
    if (n == 0) fall_back("containers.conf: a value it does not read");
    t->s += n;
  }
  skip_blank(t, 0);
  if (*t->s != '\n' && *t->s != '\r' && *t->s != '\0') fall_back("containers.conf: more after a value");
}

static int word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* containers-conf.ts applyContainers: the keys hutch reads; default_capabilities alone is handled here. */
static const char *const READ_KEYS[] = {"env", "dns_servers", "dns_searches", "dns_options", "default_ulimits",
                                        "seccomp_profile", "volumes", "userns", NULL};

static void read_conf_file(const char *path, struct run *r, int *caps_given) {
  struct buf raw = {0};
  int got = read_text(path, &raw);
  if (got == -1) return;
  if (got != 0) fall_back("containers.conf cannot be read");
  char *text = text_of(&raw);
  struct toml t = {.s = text};
  for (;;) {
    skip_blank(&t, 1);
    if (*t.s == '\0') break;
    if (*t.s == '[') {
      const char *end = strchr(t.s, ']');
      size_t n = end == NULL ? 0 : (size_t)(end - t.s - 1);
      if (n == 0 || n >= sizeof t.table || t.s[1] == '[') fall_back("containers.conf: a table it does not read");
      for (size_t i = 0; i < n; i++)
        if (!word_char(t.s[1 + i])) fall_back("containers.conf: a table name it does not read");
      snprintf(t.table, sizeof t.table, "%.*s", (int)n, t.s + 1);
      if (strcmp(t.table, "hutch") == 0 || strncmp(t.table, "hutch.", 6) == 0) fall_back("containers.conf: a [hutch] table");
      for (int k = 0; k < t.nkeys; k++)
        if (strcmp(t.keys[k], t.table) == 0) fall_back("containers.conf: a table given twice");
      if (t.nkeys == 64) fall_back("containers.conf: too many keys");
      snprintf(t.keys[t.nkeys++], sizeof t.keys[0], "%s", t.table);
      t.s = end + 1;
      skip_blank(&t, 0);
      if (*t.s != '\n' && *t.s != '\r' && *t.s != '\0') fall_back("containers.conf: more after a table");
      continue;
    }
    size_t n = 0;
    while (word_char(t.s[n]) && t.s[n] != '.') n++;
    if (n == 0) fall_back("containers.conf: a line it does not read");
    char key[160];
    snprintf(key, sizeof key, "%s.%.*s", t.table, (int)n, t.s);
    for (int k = 0; k < t.nkeys; k++)
      if (strcmp(t.keys[k], key) == 0) fall_back("containers.conf: a key given twice");
    if (t.nkeys == 64) fall_back("containers.conf: too many keys");
    snprintf(t.keys[t.nkeys++], sizeof t.keys[0], "%s", key);
    const char *name = t.s;
    t.s += n;
    skip_blank(&t, 0);
    if (*t.s != '=') fall_back("containers.conf: a line it does not read");
    t.s++;
    skip_blank(&t, 0);
    struct buf items = {0};
    const char *value = t.s;
    toml_value(&t, &items);
    if (strcmp(t.table, "containers") != 0) continue;
    for (const char *const *k = READ_KEYS; *k != NULL; k++)
      if (strlen(*k) == n && strncmp(*k, name, n) == 0) fall_back("containers.conf: a key of [containers] it does not handle");
    if (n != 20 || strncmp(name, "default_capabilities", 20) != 0) continue;
    if (*value != '[') fall_back("containers.conf: default_capabilities is not a list");
    r->caps = 0, *caps_given = 1;
    for (size_t at = 0; at < items.len; at += strlen(items.p + at) + 1) r->caps |= 1ULL << cap_number(items.p + at, strlen(items.p + at));
    free(items.p);
  }
  free(text);
  free(raw.p);
}

/* seccomp-filters.txt (precompiled.ts writePrecompiled): `ARCH FROM-BELOW FILE CAP,...` for each filter,
   FROM-BELOW the kernels that resolve the default profile alike (kernelSpan; no BELOW: no bound). */
#if defined(__x86_64__)
#define SCMP_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define SCMP_ARCH "SCMP_ARCH_AARCH64"
#else
#define SCMP_ARCH "none"
#endif

/* `A.B` at the head of s, digits only, as A * 1000000 + B (profile.ts compares major.minor alone);
   *rest points past it. */
static int major_minor(const char *s, unsigned long *version, const char **rest) {
  unsigned long part[2];
  for (int i = 0; i < 2; i++) {
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    part[i] = strtoul(s, &end, 10);
    if (errno != 0 || part[i] > 999999) return -1;
    s = end;
    if (i == 0 && *s++ != '.') return -1;
  }
  *version = part[0] * 1000000 + part[1];
  *rest = s;
  return 0;
}

static int in_span(const char *span, unsigned long running) {
  unsigned long from, below;
  const char *rest;
  if (major_minor(span, &from, &rest) != 0 || *rest != '-') return 0;
  if (rest[1] == '\0') return running >= from;
  if (major_minor(rest + 1, &below, &rest) != 0 || *rest != '\0') return 0;
  return running >= from && running < below;
}

static void find_filter(struct run *r, const char *install) {
  char *dir = str_cat(install, "/dist/bundle", "");
  struct buf index = {0};
  if (read_text(str_cat(dir, "/seccomp-filters.txt", ""), &index) != 0) fall_back("no list of compiled seccomp filters (npm run build)");
  char *text = buf_cstr(&index);
  struct utsname u;
  if (uname(&u) != 0) fall_back("uname failed");
  unsigned long running;
  const char *rest;
  if (major_minor(u.release, &running, &rest) != 0 || (*rest != '\0' && *rest != '.' && *rest != '-'))
    fall_back("a kernel release whose major.minor it cannot read");
  for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char arch[64], kernel[256], file[128], caps[1024];
    if (sscanf(line, "%63s %255s %127s %1023s", arch, kernel, file, caps) != 4) continue;
    if (strcmp(arch, SCMP_ARCH) != 0 || !in_span(kernel, running) || strchr(file, '/') != NULL) continue;
    uint64_t set = 0;
    for (char *c = caps, *end; *c; c = *end ? end + 1 : end) {
      end = strchrnul(c, ',');
      set |= 1ULL << cap_number(c, (size_t)(end - c));
    }
    if (set != r->caps) continue;
    if (read_text(str_cat(dir, "/", file), &r->seccomp) != 0 || r->seccomp.len == 0 || r->seccomp.len % 8 != 0)
      fall_back("a compiled seccomp filter is missing or damaged");
    return;
  }
  fall_back("no compiled seccomp filter for this capability set and kernel");
}

void read_conf(struct run *r, const char *home, const char *config_home, const char *install) {
  if (config_home == NULL && home == NULL) fall_back("no HOME");
  char *user = path_join(config_home != NULL ? config_home : path_join(home, ".config"), "containers");
  const char *const dropins[] = {"/etc/containers/containers.conf.d", "/etc/containers/containers.rootless.conf.d",
                                 str_cat(user, "/containers.conf.d", ""), str_cat(user, "/storage.conf", ""),
                                 "/etc/containers/storage.conf", "/usr/share/containers/storage.conf", NULL};
  for (const char *const *d = dropins; *d != NULL; d++)
    if (exists(*d) || errno != ENOENT) fall_back("a containers.conf drop-in folder or a storage.conf");
  const char *const files[] = {"/usr/share/containers/containers.conf", "/etc/containers/containers.conf",
                               "/etc/containers/containers.rootless.conf", str_cat(user, "/containers.conf", ""), NULL};
  int given = 0;
  for (const char *const *f = files; *f != NULL; f++) read_conf_file(*f, r, &given);
  if (!given) {
    r->caps = 0;
    for (const char *c = DEFAULT_CAPS, *end; *c; c = *end ? end + 1 : end) {
      end = strchrnul(c, ' ');
      r->caps |= 1ULL << cap_number(c, (size_t)(end - c));
    }
  }
  find_filter(r, install);
}

/* --- the id maps: subid.ts lookupSubid, idmap.ts rootMaps and checkMaps, newidmap.ts idMapTools and writeIdMaps --- */

static int digits(const char *s, size_t n) {
  return n > 0 && n <= 15 && strspn(s, "0123456789") >= n;
}

/* The ASCII white space of String.prototype.trim (the line break is the lines' separator). */
static int blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* subid.ts parseSubid and mergeRanges: the user's ranges in /etc/subuid or /etc/subgid (a trimmed
   line of three fields naming the user or its uid, START:COUNT, COUNT > 0), sorted and merged.
   Numbers that are not plain digits (Number() reads "1e5", " 7", "0x10") and a line that may end
   in non-ASCII white space are the TypeScript path's. Returns how many lines named the user, the
   ones skipped as parseSubid skips them included. */
static int read_ranges(const struct run *r, const char *file, struct subids *s) {
  struct buf raw = {0};
  int got = read_text(file, &raw);
  if (got == -2) fall_back("a subordinate id file that cannot be read"); /* subid.ts SUBID_UNREADABLE */
  char *text = got == 0 ? text_of(&raw) : str_cat("", "", ""), *save = NULL; /* missing: no ranges */
  char uid[16];
  snprintf(uid, sizeof uid, "%u", r->uid);
  unsigned long start[MAX_RANGES], count[MAX_RANGES];
  int n = 0, named = 0;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    size_t len = strlen(line);
    while (len > 0 && blank(line[len - 1])) line[--len] = '\0';
    while (blank(*line)) line++, len--;
    if (len > 0 && ((unsigned char)line[0] >= 0x80 || (unsigned char)line[len - 1] >= 0x80))
      fall_back("a subordinate id line that begins or ends in non-ASCII");
    size_t name = strcspn(line, ":");
    if (!((name == strlen(r->user_name) && strncmp(line, r->user_name, name) == 0) || (name == strlen(uid) && strncmp(line, uid, name) == 0)))
      continue;
    named++;
    char *first = line[name] == ':' ? line + name : NULL, *second = first != NULL ? strchr(first + 1, ':') : NULL;
    if (second == NULL || strchr(second + 1, ':') != NULL) continue; /* not three fields */
    size_t a = (size_t)(second - first - 1), b = strlen(second + 1);
    if (!digits(first + 1, a) || !digits(second + 1, b)) fall_back("a subordinate id line it does not read");
    unsigned long at = strtoul(first + 1, NULL, 10), ids = strtoul(second + 1, NULL, 10);
    if (ids == 0) continue; /* toRange: no ids, no range */
    if (n == MAX_RANGES) fall_back("more subordinate ranges than it keeps");
    start[n] = at, count[n] = ids, n++;
  }
  for (int i = 1; i < n; i++) /* sorted by start, a stable sort as Array.prototype.sort */
    for (int j = i; j > 0 && start[j - 1] > start[j]; j--) {
      unsigned long t = start[j];
      start[j] = start[j - 1], start[j - 1] = t, t = count[j], count[j] = count[j - 1], count[j - 1] = t;
    }
  s->n = 0, s->total = 0;
  for (int i = 0; i < n; i++) { /* overlapping and adjacent ranges as one */
    unsigned long *last = s->n > 0 ? &s->count[s->n - 1] : NULL;
    if (last != NULL && start[i] <= s->start[s->n - 1] + *last) {
      if (start[i] + count[i] - s->start[s->n - 1] > *last) *last = start[i] + count[i] - s->start[s->n - 1];
    } else s->start[s->n] = start[i], s->count[s->n] = count[i], s->n++;
  }
  for (int i = 0; i < s->n; i++) s->total += s->count[i];
  return named;
}

/* subid.ts lookupSubid asks getsubids (shadow 4.13+) where the file gives the user no range.
   getsubids reads the same files unless /etc/nsswitch.conf names another subid source (shadow's
   nss.c: the first `subid: NAME` line, NAME not `files`): such a source (SSSD, LDAP), or a line of
   the file naming the user that gave no range (which getsubids reads its own way), is the
   TypeScript path's to ask. Without getsubids on PATH nothing is asked: the user alone. */
static void check_no_subid_source(int named, const char *cwd) {
  char *tool = find_on_path("getsubids", cwd);
  if (tool == NULL) return;
  if (named > 0) fall_back("a subordinate id line naming the user gave no range (getsubids is asked)");
  struct buf raw = {0};
  int got = read_text("/etc/nsswitch.conf", &raw);
  if (got == -1) return;
  if (got != 0) fall_back("/etc/nsswitch.conf cannot be read (getsubids' subid source)");
  char *text = buf_cstr(&raw), *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#' || strcasestr(line, "subid") == NULL) continue;
    const char *p = strncasecmp(line, "subid:", 6) == 0 ? line + 6 : "";
    p += strspn(p, " \t");
    if (strncmp(p, "files", 5) == 0 && p[5 + strspn(p + 5, " \t\r")] == '\0') continue;
    fall_back("/etc/nsswitch.conf names a subid source (getsubids)");
  }
}

/* newidmap.ts onPath: the tool on PATH, as execvp finds it. */
static const char *on_path(const char *tool, const char *cwd) {
  char *file = find_on_path(tool, cwd);
  if (file == NULL) fall_back("newuidmap or newgidmap is not on PATH");
  return file;
}

/* newidmap.ts mapWay: with CAP_SETUID or CAP_SETGID (root of a user namespace) the maps are written otherwise. */
static void check_not_capable(void) {
  unsigned long long caps;
  if (effective_caps(&caps) != 0) fall_back("cannot read CapEff in /proc/self/status");
  if (caps & ((1ULL << 6) | (1ULL << 7))) fall_back("CAP_SETUID or CAP_SETGID held");
}

/* idmap.ts checkMaps: the user's own id inside one of its (merged, so disjoint) ranges maps one host id twice. */
static int holds(const struct subids *s, unsigned id) {
  for (int i = 0; i < s->n; i++)
    if (id >= s->start[i] && id - s->start[i] < s->count[i]) return 1;
  return 0;
}

/* foreground.ts warnOnce: without a subuid range, a warning once per boot (RUN/warned-no-subuid).
   A marker it cannot make is handed over before the warning, so that it comes once either way. */
static void warn_alone(const struct run *r) {
  char *marker = path_join(r->run, "warned-no-subuid");
  struct stat st;
  if (stat(marker, &st) == 0) return;
  int fd = mkdir_p(r->run, 0700) == 0 ? open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : -1;
  if (fd < 0) fall_back("cannot make the warned-no-subuid marker");
  close(fd);
  fprintf(stderr, "hutch: warning: no /etc/subuid range for %s: only your own uid is mapped (to root) in containers; images with other users may fail\n",
          r->user_name);
}

void read_id_maps(struct run *r, const char *cwd) {
  int uid_named = read_ranges(r, "/etc/subuid", &r->subuid), gid_named = read_ranges(r, "/etc/subgid", &r->subgid);
  if (r->subuid.n == 0) check_no_subid_source(uid_named, cwd);
  if (r->subgid.n == 0) check_no_subid_source(gid_named, cwd);
  if (holds(&r->subuid, r->uid) || holds(&r->subgid, r->gid)) fall_back("a subordinate range holds the user's own id");
  check_not_capable();
  /* A kind without a range is the user's own id alone: written by this front after the clone. */
  r->subuid.tool = r->subuid.n > 0 ? on_path("newuidmap", cwd) : NULL;
  r->subgid.tool = r->subgid.n > 0 ? on_path("newgidmap", cwd) : NULL;
  if (r->subuid.n == 0) warn_alone(r);
}

static int write_proc(pid_t pid, const char *file, const char *text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  return write_text(path, text, 0);
}

int write_own_maps(const struct run *r, pid_t pid) {
  char map[48];
  if (r->subuid.n == 0) {
    snprintf(map, sizeof map, "0 %u 1\n", r->uid);
    if (write_proc(pid, "uid_map", map) != 0) return -1;
  }
  if (r->subgid.n == 0) { /* an unprivileged gid_map needs setgroups denied first (user_namespaces(7)) */
    snprintf(map, sizeof map, "0 %u 1\n", r->gid);
    if (write_proc(pid, "setgroups", "deny") != 0 || write_proc(pid, "gid_map", map) != 0) return -1;
  }
  return 0;
}

/* --- the container's user: users.ts resolveUserIn(rootfs, '0') --- */

/* ROOTFS/etc/NAME as the TypeScript path reads it (missing: empty); a symlink on the way is handed
   over: the TypeScript path resolves it inside the tree (in-root.ts readFileInRoot), this front does not. */
static char *etc_file(const struct run *r, const char *name) {
  if (r->image.ref != NULL) return image_etc_text(&r->image, name); /* blueprint.ts containerUser: the image's userDb */
  struct stat st;
  char *etc = str_cat(r->rootfs, "/etc", ""), *path = str_cat(etc, "/", name);
  if ((lstat(etc, &st) == 0 && S_ISLNK(st.st_mode)) || (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
    fall_back("the rootfs' /etc, /etc/passwd or /etc/group is a symlink");
  struct buf raw = {0};
  int got = read_text(path, &raw);
  if (got == -2 && lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) fall_back("/etc/passwd or /etc/group is no plain file");
  return got == 0 && raw.len > 0 ? text_of(&raw) : str_cat("", "", "");
}

/* The fields of a line split at ':' (users.ts parseTable), the first 8 kept; their count. */
static int fields(char *line, char *f[8]) {
  int n = 0;
  for (char *c = line;;) {
    char *end = strchrnul(c, ':');
    if (n < 8) f[n] = c;
    n++;
    if (*end == '\0') return n;
    *end = '\0';
    c = end + 1;
  }
}

static unsigned long number(const char *s) {
  if (!digits(s, strlen(s))) fall_back("a passwd or group line it does not read");
  return strtoul(s, NULL, 10);
}

/* A table's lines (users.ts parseTable: no empty line, none starting with #), split at ':'. */
struct table {
  char *(*f)[8];
  int *n, count;
};

static void parse_table(char *text, struct table *t) {
  size_t lines = 1;
  for (const char *c = text; *c; c++) lines += *c == '\n';
  t->f = calloc(lines, sizeof *t->f), t->n = calloc(lines, sizeof *t->n), t->count = 0;
  if (t->f == NULL || t->n == NULL) fall_back("out of memory");
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') continue;
    t->n[t->count] = fields(line, t->f[t->count]);
    t->count++;
  }
}

/* The first line whose field `col` is `value` (a line without it matches nothing), or -1. */
static int find_row(const struct table *t, int col, const char *value) {
  for (int i = 0; i < t->count; i++)
    if (t->n[i] > col && col < 8 && strcmp(t->f[i][col], value) == 0) return i;
  return -1;
}

static int is_id(const char *s) {
  return *s != '\0' && strspn(s, "0123456789") == strlen(s);
}

/* users.ts resolveUser(-u or '0', passwd, group): a name first, then a uid; a group by name, then gid. */
void read_user(struct run *r) {
  const char *spec = r->user_spec != NULL ? r->user_spec : "0", *colon = strchr(spec, ':');
  if (colon != NULL && strchr(colon + 1, ':') != NULL) fall_back("-u with more than one ':'");
  char *user = colon != NULL ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
  const char *group_part = colon != NULL ? colon + 1 : "";
  if (user == NULL || *user == '\0') fall_back("-u without a user");
  struct table users, groups;
  parse_table(etc_file(r, "passwd"), &users);
  parse_table(etc_file(r, "group"), &groups);
  int e = find_row(&users, 0, user);
  if (e < 0 && is_id(user)) e = find_row(&users, 2, user);
  if (e < 0 && !is_id(user)) fall_back("-u names a user the tree's /etc/passwd lacks");
  char **entry = e >= 0 ? users.f[e] : NULL;
  if (entry != NULL && (users.n[e] < 4 || entry[0][0] == '\0')) fall_back("a passwd line it does not read");
  r->user_uid = entry != NULL ? number(entry[2]) : number(user);
  r->user_gid = entry != NULL ? number(entry[3]) : 0;
  r->home = entry != NULL && users.n[e] > 5 ? entry[5] : "";
  if (*group_part != '\0') {
    int g = find_row(&groups, 0, group_part);
    if (g < 0 && is_id(group_part)) g = find_row(&groups, 2, group_part);
    if (g < 0 && !is_id(group_part)) fall_back("-u names a group the tree's /etc/group lacks");
    if (g >= 0 && groups.n[g] < 3) fall_back("a group line it does not read");
    r->user_gid = g >= 0 ? number(groups.f[g][2]) : number(group_part);
  }
  r->groups = calloc((size_t)groups.count + 1, sizeof *r->groups);
  for (int i = 0; entry != NULL && i < groups.count; i++) { /* every group listing the user by name */
    if (groups.n[i] < 4) continue;
    int member = 0;
    for (char *m = groups.f[i][3], *end; !member; m = end + 1) {
      end = strchrnul(m, ',');
      member = (size_t)(end - m) == strlen(entry[0]) && strncmp(m, entry[0], (size_t)(end - m)) == 0;
      if (*end == '\0') break;
    }
    if (!member) continue;
    unsigned long gid = number(groups.f[i][2]);
    if (gid != r->user_gid) r->groups[r->ngroups++] = gid;
  }
  /* blueprint.ts requireMapped: the user must be mapped; else the TypeScript path says so. */
  if (r->user_uid > r->subuid.total || r->user_gid > r->subgid.total) fall_back("the container's user is not mapped");
}

/* --- the store's filesystem: fs-probe.ts storeFs(DATA, DATA), cached in DATA/.fs-probe.json --- */

/* fs-probe.ts NAMES: statfs' f_type as the cache names it (else 0x and its hex). */
static const struct {
  unsigned long magic;
  const char *name;
} FS_NAMES[] = {{0x6969, "nfs"}, {0x858458f6, "ramfs"}, {0x01021994, "tmpfs"}, {0xef53, "ext4"}, {0x58465342, "xfs"},
                {0x9123683e, "btrfs"}, {0x65735546, "fuse"}, {0x0bd00bd0, "lustre"}, {0x794c7630, "overlay"},
                {0xff534d42, "cifs"}, {0xfe534d42, "smb2"}, {0x47504653, "gpfs"}, {0x19830326, "beegfs"},
                {0x2011bab0, "exfat"}, {0x4d44, "vfat"}, {0, NULL}};

/* The cache as JSON.stringify writes it, {"DEV:TYPE":{"type":"NAME","userXattrs":B,"hardLinks":B,"symlinks":B},...},
   each key once (JSON.parse would keep the last): 1, with *found `key`'s userXattrs (or -1 when absent).
   Anything else (which JSON.parse may still read) is the TypeScript path's: 0. */
static int cache_entries(const char *text, const char *key, int *found) {
  static const char *const FIELDS[] = {",\"userXattrs\":", ",\"hardLinks\":", ",\"symlinks\":"};
  const char *c = text, *keys[256];
  size_t lens[256];
  int n = 0;
  *found = -1;
  if (*c++ != '{') return 0;
  if (*c == '}') return c[1] == '\0';
  for (;;) {
    if (*c++ != '"') return 0;
    const char *k = c;
    c += strspn(c, "0123456789");
    if (c == k || *c++ != ':' || strspn(c, "0123456789") == 0) return 0;
    c += strspn(c, "0123456789");
    size_t len = (size_t)(c - k);
    if (strncmp(c, "\":{\"type\":\"", 11) != 0) return 0;
    c += 11;
    size_t type = strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789");
    if (type == 0 || c[type] != '"') return 0;
    c += type + 1;
    int value[3];
    for (int i = 0; i < 3; i++) {
      if (strncmp(c, FIELDS[i], strlen(FIELDS[i])) != 0) return 0;
      c += strlen(FIELDS[i]);
      if (strncmp(c, "true", 4) == 0) value[i] = 1, c += 4;
      else if (strncmp(c, "false", 5) == 0) value[i] = 0, c += 5;
      else return 0;
    }
    if (*c++ != '}' || n == 256) return 0;
    for (int i = 0; i < n; i++)
      if (lens[i] == len && memcmp(keys[i], k, len) == 0) return 0;
    keys[n] = k, lens[n++] = len;
    if (len == strlen(key) && memcmp(k, key, len) == 0) *found = value[0];
    if (*c == '}') return c[1] == '\0';
    if (*c++ != ',') return 0;
  }
}

/* fs-probe.ts probe: what a scratch folder under DATA takes (a user xattr, a hard link, a symlink),
   as its JSON ("type":... without the braces); the folder removed. One it cannot make or write in
   is the TypeScript path's (its error). */
static char *probe_store(const char *data, int *user_xattrs) {
  struct statfs fs;
  if (statfs(data, &fs) != 0) fall_back("cannot statfs the data folder");
  char *scratch = path_join(data, ".probe-XXXXXX"); /* mkdtempSync: 0700 */
  if (mkdtemp(scratch) == NULL) fall_back("cannot make the store's probe folder");
  char *f = path_join(scratch, "f"), *l = path_join(scratch, "l"), *s = path_join(scratch, "s");
  int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd >= 0) close(fd);
  int xattrs = fd >= 0 && lsetxattr(f, "user.hutch.probe", "1", 1, 0) == 0;
  int links = fd >= 0 && link(f, l) == 0, symlinks = fd >= 0 && symlink("f", s) == 0;
  unlink(s), unlink(l), unlink(f), rmdir(scratch);
  if (fd < 0) fall_back("cannot write in the store's probe folder");
  char type[32];
  const char *name = NULL;
  for (int i = 0; FS_NAMES[i].name != NULL && name == NULL; i++)
    if (FS_NAMES[i].magic == (unsigned long)fs.f_type) name = FS_NAMES[i].name;
  if (name == NULL) snprintf(type, sizeof type, "0x%lx", (unsigned long)fs.f_type), name = type;
  char json[160];
  snprintf(json, sizeof json, "\"type\":\"%s\",\"userXattrs\":%s,\"hardLinks\":%s,\"symlinks\":%s", name,
           xattrs ? "true" : "false", links ? "true" : "false", symlinks ? "true" : "false");
  *user_xattrs = xattrs;
  return str_cat(json, "", "");
}

int store_user_xattrs(const char *data) {
  struct stat st;
  struct statfs fs;
  if (stat(data, &st) != 0 || statfs(data, &fs) != 0) fall_back("cannot stat the data folder");
  char key[64];
  snprintf(key, sizeof key, "%lu:%lu", (unsigned long)st.st_dev, (unsigned long)fs.f_type);
  char *file = path_join(data, ".fs-probe.json");
  struct buf raw = {0};
  int got = read_text(file, &raw), found = -1;
  if (got == -2) fall_back("the store's probe cache cannot be read");
  char *text = got == 0 ? buf_cstr(&raw) : str_cat("{}", "", ""); /* missing: readCache's {} */
  if ((got == 0 && raw.len > 0 && memchr(raw.p, '\0', raw.len) != NULL) || !cache_entries(text, key, &found))
    fall_back("a store probe cache it does not read");
  if (found >= 0) return found;
  /* storeFs: probed, then the cache written again with this key last ({...cache, [key]: found}). */
  int user_xattrs;
  char *entry = probe_store(data, &user_xattrs);
  text[strlen(text) - 1] = '\0'; /* the closing brace */
  /* A cache that cannot be written only costs the next run another probe (storeFs). */
  atomic_write(file, str_cat(text, strlen(text) > 1 ? ",\"" : "\"", str_cat(key, "\":{", str_cat(entry, "}}", ""))), 1);
  return user_xattrs;
}
