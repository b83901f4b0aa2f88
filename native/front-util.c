/* The fronts' small pieces: the byte buffer of the wire, Node's path.posix, the plan's records (front.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "front.h"
#include "wire.h"

static void *grow(void *p, size_t n) {
  p = realloc(p, n);
  if (p == NULL) {
    fputs("hutch: out of memory\n", stderr);
    exit(125);
  }
  return p;
}

void buf_add(struct buf *b, const void *data, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 64;
    b->p = grow(b->p, b->cap);
  }
  if (n > 0) memcpy(b->p + b->len, data, n);
  b->len += n;
}

void buf_u32(struct buf *b, uint32_t v) {
  unsigned char le[4];
  for (int i = 0; i < 4; i++) le[i] = (unsigned char)(v >> (8 * i));
  buf_add(b, le, 4);
}

void buf_u64(struct buf *b, uint64_t v) {
  buf_u32(b, (uint32_t)v);
  buf_u32(b, (uint32_t)(v >> 32));
}

/*
 * Node reads argv, the environment and paths as UTF-8, a bad sequence becoming U+FFFD: the bytes
 * it would send then differ from ours, so such a string is the TypeScript path's to handle.
 */
int utf8_valid(const unsigned char *s) {
  while (*s) {
    int n = *s < 0x80 ? 0 : (*s >> 5) == 6 ? 1 : (*s >> 4) == 14 ? 2 : (*s >> 3) == 30 ? 3 : -1;
    if (n < 0) return 0;
    unsigned cp = n == 0 ? *s : *s & (0x3f >> n);
    for (int i = 1; i <= n; i++) {
      if ((s[i] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const unsigned least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    s += n + 1;
  }
  return 1;
}

void buf_str(struct buf *b, const char *s) {
  if (!utf8_valid((const unsigned char *)s)) fall_back("a string is not UTF-8");
  buf_u32(b, (uint32_t)strlen(s) + 1);
  buf_add(b, s, strlen(s) + 1);
}

char *buf_cstr(struct buf *b) {
  char *s = grow(NULL, b->len + 1);
  memcpy(s, b->p, b->len);
  s[b->len] = '\0';
  return s;
}

char *str_cat(const char *a, const char *b, const char *c) {
  struct buf out = {0};
  buf_add(&out, a, strlen(a));
  buf_add(&out, b, strlen(b));
  buf_add(&out, c, strlen(c));
  char *s = buf_cstr(&out);
  free(out.p);
  return s;
}

/* path.posix's normalizeString for an absolute path: no empty, "." or ".." segment left. */
static char *segments(const char *p) {
  struct buf out = {0};
  for (const char *s = p; *s;) {
    while (*s == '/') s++;
    const char *end = strchrnul(s, '/');
    size_t n = (size_t)(end - s);
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      while (out.len > 0 && out.p[out.len - 1] != '/') out.len--;
      if (out.len > 0) out.len--; /* its slash */
    } else if (n > 0 && !(n == 1 && s[0] == '.')) {
      buf_add(&out, "/", 1);
      buf_add(&out, s, n);
    }
    s = end;
  }
  char *r = out.len == 0 ? str_cat("/", "", "") : buf_cstr(&out);
  free(out.p);
  return r;
}

char *path_normalize(const char *p) {
  char *r = segments(p);
  size_t n = strlen(p);
  if (n > 0 && p[n - 1] == '/' && strcmp(r, "/") != 0) {
    char *t = str_cat(r, "/", "");
    free(r);
    return t;
  }
  return r;
}

char *path_resolve(const char *base, const char *p) {
  if (p[0] == '/') return segments(p);
  char *joined = str_cat(base, "/", p);
  char *r = segments(joined);
  free(joined);
  return r;
}

int path_beneath(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && path[n] == '/';
}

char *path_join(const char *a, const char *b) {
  char *joined = str_cat(a, "/", b);
  char *r = path_normalize(joined);
  free(joined);
  return r;
}

void plan_record(struct buf *plan, unsigned tag, const struct buf *payload) {
  unsigned char head[2] = {(unsigned char)tag, (unsigned char)(tag >> 8)};
  buf_add(plan, head, 2);
  buf_u32(plan, (uint32_t)payload->len);
  buf_add(plan, payload->p, payload->len);
}

void record_u32(struct buf *plan, unsigned tag, uint32_t v) {
  struct buf p = {0};
  buf_u32(&p, v);
  plan_record(plan, tag, &p);
  free(p.p);
}

void record_mount(struct buf *plan, uint32_t flags, uint32_t ops, const char *source, const char *target, const char *fstype,
                  const char *data) {
  struct buf p = {0};
  buf_u32(&p, flags), buf_u32(&p, ops);
  buf_str(&p, source), buf_str(&p, target), buf_str(&p, fstype), buf_str(&p, data);
  plan_record(plan, TAG_MOUNT, &p);
  free(p.p);
}

void record_strs(struct buf *plan, unsigned tag, const char *a, const char *b) {
  struct buf p = {0};
  buf_str(&p, a);
  if (b != NULL) buf_str(&p, b);
  plan_record(plan, tag, &p);
  free(p.p);
}

const char *const DEVICES[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", NULL};
const char *const DEV_LINKS[][2] = {{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}, {"pts/ptmx", "/dev/ptmx"},
    {"/proc/kcore", "/dev/core"}, {NULL, NULL}};

int private_dir(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0) return 1;
  return S_ISDIR(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & 0002);
}

int mkdir_p(const char *path, unsigned mode) {
  char *p = str_cat(path, "", "");
  for (char *c = p + 1; *c; c++) {
    if (*c != '/') continue;
    *c = '\0';
    if (mkdir(p, mode) != 0 && errno != EEXIST) return -1;
    *c = '/';
  }
  int r = mkdir(p, mode) != 0 && errno != EEXIST ? -1 : 0;
  free(p);
  return r;
}

int no_node(const char *variable) {
  const char *v = getenv(variable);
  return v != NULL && strcmp(v, "1") == 0;
}

_Noreturn void exec_node(const char *install, char **words) {
  size_t n = 0;
  while (words[n] != NULL) n++;
  /* node, --, bin/hutch, then the words after words[0]: without `--` Node reads a --env-file among
     the words as its own option (and exits 9 when the file is missing) */
  char **argv = calloc(n + 3, sizeof(char *));
  if (argv == NULL) exit(125);
  argv[0] = "node", argv[1] = "--";
  argv[2] = str_cat(install, "/bin/hutch", "");
  memcpy(argv + 3, words + 1, sizeof(char *) * n);
  signal(SIGPIPE, SIG_DFL); /* the helper's start ignored it */
  execvp("node", argv);
  fprintf(stderr, "hutch: cannot start: node: %s\nhint: install Node.js 20 or newer and put it on PATH\n", strerror(errno));
  exit(125);
}

int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int write_text(const char *path, const char *text, int flags) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0666);
  if (fd < 0) return -1;
  size_t n = strlen(text);
  ssize_t w;
  while ((w = write(fd, text, n)) < 0 && errno == EINTR) {}
  int saved = w < 0 ? errno : EIO, closed = close(fd);
  if (w == (ssize_t)n) return closed;
  errno = saved;
  return -1;
}

char *resolve_in_root(const char *root, const char *path) {
  struct buf done = {0}; /* the resolved part: "/a/b", no symlink in it */
  char *todo = str_cat(path, "", "");
  int links = 0, found = 1;
  for (char *c = todo; found;) {
    while (*c == '/') c++;
    if (*c == '\0') break;
    char *end = strchrnul(c, '/');
    size_t n = (size_t)(end - c);
    const char *name = c;
    c = end;
    if (n == 1 && name[0] == '.') continue;
    if (n == 2 && name[0] == '.' && name[1] == '.') {
      while (done.len > 0 && done.p[done.len - 1] != '/') done.len--;
      if (done.len > 0) done.len--;
      continue;
    }
    buf_add(&done, "/", 1), buf_add(&done, name, n);
    char *resolved = buf_cstr(&done), *here = str_cat(root, resolved, "");
    free(resolved);
    struct stat st;
    char target[4096];
    ssize_t len;
    if (lstat(here, &st) != 0) found = 0;
    else if (S_ISLNK(st.st_mode)) {
      done.len -= n + 1;
      len = readlink(here, target, sizeof target - 1);
      if (++links > 40 || len <= 0) found = 0; /* ELOOP, as the kernel counts */
      else {
        target[len] = '\0';
        if (target[0] == '/') done.len = 0;
        char *rest = str_cat(target, "/", c);
        free(todo);
        todo = rest, c = todo;
      }
    }
    free(here);
  }
  char *resolved = found ? buf_cstr(&done) : NULL, *host = found ? str_cat(root, resolved, "") : NULL;
  free(resolved), free(done.p), free(todo);
  return host;
}

int atomic_write(const char *path, const char *text, int durable) {
  const char *slash = strrchr(path, '/');
  char *dir = strndup(path, (size_t)(slash - path));
  if (dir == NULL || mkdir_p(*dir ? dir : "/", 0777) != 0) return free(dir), -1;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char name[64];
  snprintf(name, sizeof name, ".tmp-%d-%lx", (int)getpid(), (unsigned long)now.tv_nsec);
  char *temp = str_cat(dir, "/.", str_cat(slash + 1, name, ""));
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int ok = fd >= 0 && write_full(fd, text, strlen(text)) == 0 && (!durable || fsync(fd) == 0);
  if (fd >= 0) close(fd);
  if (!ok || rename(temp, path) != 0) {
    unlink(temp);
    free(temp), free(dir);
    return -1;
  }
  int d = durable ? open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (d >= 0) fsync(d), close(d);
  free(temp), free(dir);
  return 0;
}

int read_text(const char *path, struct buf *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno == ENOENT ? -1 : -2;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -2;
  }
  char chunk[8192];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_add(out, chunk, (size_t)n);
  close(fd);
  return n < 0 ? -2 : 0;
}

char *tmp_runtime_dir(void) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/hutch-%u", (unsigned)getuid());
  if ((mkdir(tmp, 0700) != 0 && errno != EEXIST) || !private_dir(tmp)) fall_back("the runtime folder in /tmp is not private");
  return str_cat(tmp, "", "");
}

/* V8's array index (the canonical decimal of 0 to 2^32-2): a name process.env holds but never lists. */
static int array_index(const char *name, size_t n) {
  if (n == 0 || n > 10 || (name[0] == '0' && n > 1)) return 0;
  unsigned long long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + (unsigned long long)(name[i] - '0');
  }
  return v <= 4294967294ULL;
}

char **node_environ(void) {
  size_t n = 0;
  while (environ[n] != NULL) n++;
  char **env = calloc(n + 1, sizeof(char *));
  if (env == NULL) fall_back("out of memory");
  size_t k = 0;
  for (char **e = environ; *e != NULL; e++) {
    const char *eq = strchr(*e, '=');
    if (eq == NULL || eq == *e || array_index(*e, (size_t)(eq - *e))) continue;
    size_t name = (size_t)(eq - *e) + 1; /* with its '=' */
    int seen = 0;
    for (size_t j = 0; j < k && !seen; j++) seen = strncmp(env[j], *e, name) == 0;
    if (!seen) env[k++] = *e;
  }
  return env;
}

void close_from(int first) {
  if (syscall(SYS_close_range, (unsigned)first, ~0u, 0) == 0) return;
  struct rlimit limit;
  int last = getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1 << 20 ? (int)limit.rlim_cur : 1 << 20;
  for (int fd = first; fd < last; fd++) close(fd);
}

char *find_on_path(const char *tool, const char *cwd) {
  const char *path = getenv("PATH");
  char *dirs = str_cat(path != NULL ? path : "/usr/local/bin:/usr/bin:/bin", "", "");
  for (char *d = dirs, *end;; d = end + 1) {
    end = strchrnul(d, ':');
    int last = *end == '\0';
    *end = '\0';
    char *file = path_resolve(cwd, path_join(*d ? d : ".", tool));
    struct stat st;
    if (access(file, X_OK) == 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode)) return file;
    if (last) return NULL;
  }
}

uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

char *code_cache_dir(void) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg == NULL || *xdg == '\0') { /* /tmp/hutch-UID names another user's folder inside a user namespace */
    struct buf map = {0};
    char words[4][16] = {{0}};
    int n = read_text("/proc/self/uid_map", &map) == 0 ? sscanf(buf_cstr(&map), "%15s %15s %15s %15s", words[0], words[1], words[2], words[3]) : 0;
    free(map.p);
    if (n != 3 || strcmp(words[0], "0") != 0 || strcmp(words[1], "0") != 0 || strcmp(words[2], "4294967295") != 0) return NULL;
  }
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/tmp/hutch-%u", (unsigned)getuid());
  char *runtime = xdg != NULL && *xdg ? path_join(xdg, "hutch") : str_cat(tmp, "", ""), *dir = path_join(runtime, "code-cache");
  if (mkdir_p(dir, 0700) != 0) return NULL;
  struct stat a, b;
  int mine = lstat(runtime, &a) == 0 && lstat(dir, &b) == 0 && S_ISDIR(a.st_mode) && S_ISDIR(b.st_mode) && a.st_uid == getuid() &&
             b.st_uid == getuid() && !(a.st_mode & 022) && !(b.st_mode & 022);
  return mine ? dir : NULL;
}

/* detect.ts V1_CONTROLLERS: a v1 mount counts when its options name one (name=systemd alone does not). */
static const char *const V1_CONTROLLERS[] = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
                                             "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc", NULL};

/* detect.ts detectHost: unified (a cgroup2 mount and no v1 controller mounted; cgroup2 over
   /sys/fs/cgroup hides those before it) or not; *v2_mount: where cgroup2 is (the first, or /sys/fs/cgroup). */
int unified_host(char **v2_mount) {
  FILE *f = fopen("/proc/self/mounts", "re");
  if (f == NULL) fall_back("cannot read /proc/self/mounts");
  char line[4096], target[1024], type[64], options[2048];
  int v1 = 0;
  *v2_mount = NULL;
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "%*s %1023s %63s %2047s", target, type, options) != 3) continue;
    if (strcmp(type, "cgroup2") == 0 && (*v2_mount == NULL || strcmp(target, CGROUP_MOUNT) == 0))
      free(*v2_mount), *v2_mount = str_cat(target, "", "");
    if (strcmp(type, "cgroup2") == 0 && strcmp(target, CGROUP_MOUNT) == 0) v1 = 0;
    if (strcmp(type, "cgroup") != 0) continue;
    for (char *o = strtok(options, ","); o != NULL; o = strtok(NULL, ","))
      for (const char *const *c = V1_CONTROLLERS; *c != NULL; c++)
        if (strcmp(o, *c) == 0) v1++;
  }
  fclose(f);
  return *v2_mount != NULL && v1 == 0;
}

int effective_caps(unsigned long long *caps) {
  struct buf status = {0};
  if (read_text("/proc/self/status", &status) != 0) return -1;
  char *s = buf_cstr(&status), *eff = strstr(s, "\nCapEff:");
  if (eff != NULL) *caps = strtoull(eff + 8, NULL, 16);
  free(s), free(status.p);
  return eff == NULL ? -1 : 0;
}

char *own_folder(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash == NULL) return NULL;
  *slash = '\0';
  return str_cat(exe, "", "");
}

/* The capabilities by number (linux.ts CAPABILITIES), names without CAP_. */
static const char *const CAP_NAMES[] = {"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK",
    "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE", NULL};
int capability_number(const char *name, size_t len) {
  char upper[64];
  if (len >= sizeof upper) return -1;
  for (size_t i = 0; i < len; i++) upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
  upper[len] = '\0';
  const char *bare = strncmp(upper, "CAP_", 4) == 0 ? upper + 4 : upper;
  for (int c = 0; CAP_NAMES[c] != NULL; c++)
    if (strcmp(CAP_NAMES[c], bare) == 0) return c;
  return -1;
}

char *inside_root(const char *rootfs, const char *path) {
  char *resolved = path_resolve("/", path), *joined = path_join(rootfs, resolved);
  free(resolved);
  return joined;
}

int is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
