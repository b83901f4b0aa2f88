/*
 * The union of an image run through the shared daemon, for the C front (run-front.h, "The union of
 * an image run"): what src/engine/setup/storage.ts startUnion does with shared-union.ts sharedPlace,
 * connectShared, startDaemon and startSharedHolder, with the same place (a run in C and one in Node
 * share one daemon), the same lock, the same daemon and holder helper plans and the same words to
 * the daemon. The daemon's Node start runs while the caller goes on: only union_mount waits for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc-start.h"
#include "run-front.h"
#include "wire.h"


/* --- SHA-256 (FIPS 180-4), for the place's name: a few hundred bytes, once a run --- */

static const uint32_t ROUND[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const unsigned char block[64]) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t v[8];
  memcpy(v, h, sizeof v);
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = v[7] + (rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + ROUND[i] + w[i];
    uint32_t t2 = (rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
    memmove(v + 1, v, 7 * sizeof v[0]);
    v[4] += t1;
    v[0] = t1 + t2;
  }
  for (int i = 0; i < 8; i++) h[i] += v[i];
}

/* The digest of `len` bytes in lowercase hex (65 bytes with the NUL). */
static void sha256_hex(const unsigned char *data, size_t len, char hex[65]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  size_t whole = len - len % 64;
  for (size_t at = 0; at < whole; at += 64) compress(h, data + at);
  unsigned char tail[128] = {0}; /* the rest, 0x80, zeros, the length in bits (big-endian) */
  size_t rest = len - whole, blocks = rest + 9 > 64 ? 2 : 1;
  memcpy(tail, data + whole, rest);
  tail[rest] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) tail[blocks * 64 - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t b = 0; b < blocks; b++) compress(h, tail + 64 * b);
  for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", h[i]);
}

/* --- the place --- */

/* idmap.ts rootMaps as sharedPlace keys them: "C:H:N" joined by commas, the user's own id at 0. */
static void map_key(struct buf *out, unsigned own, const struct subids *s) {
  char part[80];
  snprintf(part, sizeof part, "0:%u:1", own);
  buf_add(out, part, strlen(part));
  unsigned long next = 1;
  for (int i = 0; i < s->n; i++) {
    snprintf(part, sizeof part, ",%lu:%lu:%lu", next, s->start[i], s->count[i]);
    buf_add(out, part, strlen(part));
    next += s->count[i];
  }
}

static void say(struct union_mount *u, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void say(struct union_mount *u, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  vsnprintf(u->error, sizeof u->error, format, ap);
  va_end(ap);
}

/* fuse/options.ts lingerSetting: whole seconds, unset or empty the default (60); anything else warns. */
static const char *linger_setting(int warn) {
  const char *raw = getenv("HUTCH_FS_LINGER");
  if (raw == NULL || *raw == '\0') return "60";
  size_t n = strlen(raw);
  if (n <= 7 && strspn(raw, "0123456789") == n) {
    static char value[16];
    snprintf(value, sizeof value, "%lu", strtoul(raw, NULL, 10)); /* Number("007") is 7 */
    return value;
  }
  if (warn) fprintf(stderr, "hutch: warning: HUTCH_FS_LINGER=%s is not a count of seconds: the daemon lingers 60 s\n", raw);
  return "60";
}

void union_check(struct run *r, struct union_mount *u, const char *install, const char *helper) {
  *u = (struct union_mount){.r = r, .helper = helper, .lock_fd = -1, .conn = -1, .daemon_ready = -1, .holder_ready = -1,
                            .holder_args = -1, .daemon_start = -1, .early = {.sync = -1, .fail = -1}};
  const char *shared = getenv("HUTCH_FS_SHARED");
  if (shared != NULL && strcmp(shared, "0") == 0) fall_back("HUTCH_FS_SHARED=0: a union daemon per container");
  /* shared-union.ts holderPath: the holder and the daemon's library built, else a daemon per container. */
  u->holder_path = str_cat(install, "/native/hutch-fs-holder", "");
  if (!exists(u->holder_path) || !exists(str_cat(install, "/native/hutch-fs-pages.so", "")))
    fall_back("the union's holder or the daemon's library is not built");
  /* entryCommand('fuseDaemon') from the bundle bin/hutch runs: its loader and the entry's name. */
  char *loader = str_cat(install, "/dist/src/cli/bundle-loader.cjs", "");
  if (!exists(loader) || !exists(str_cat(install, "/dist/bundle/fuseDaemon.cjs", ""))) fall_back("the bundle is not built");
  int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC); /* storage.ts checkFuse: the TypeScript path says why */
  if (fuse < 0) fall_back("/dev/fuse is not usable");
  close(fuse);
  char cwd[PATH_MAX], node[PATH_MAX];
  char *on_path = getcwd(cwd, sizeof cwd) != NULL ? find_on_path("node", cwd) : NULL;
  if (on_path == NULL || realpath(on_path, node) == NULL) fall_back("node is not on PATH"); /* process.execPath: /proc/self/exe */
  u->daemon_args[0] = strdup(node), u->daemon_args[1] = loader, u->daemon_args[2] = "fuseDaemon", u->daemon_args[3] = NULL;
  /* sharedPlace: the maps, the build (node and the entry), the starting process's cgroups. */
  struct buf key = {0}, cgroups = {0};
  map_key(&key, r->uid, &r->subuid);
  buf_add(&key, "\n", 1);
  map_key(&key, r->gid, &r->subgid);
  for (char **a = u->daemon_args; *a != NULL; a++) buf_add(&key, "\n", 1), buf_add(&key, *a, strlen(*a));
  buf_add(&key, "\n", 1);
  if (read_text("/proc/self/cgroup", &cgroups) == 0) buf_add(&key, cgroups.p, cgroups.len);
  char name[65];
  sha256_hex((const unsigned char *)key.p, key.len, name);
  name[16] = '\0';
  u->socket = str_cat(r->run, "/fsd/", name);
  if (strlen(u->socket) >= sizeof((struct sockaddr_un *)0)->sun_path) fall_back("the shared daemon's socket path is too long");
  u->lock = str_cat(u->socket, ".lock", ""), u->log = str_cat(u->socket, ".log", "");
  /* The plans' strings must be UTF-8 (buf_str hands over otherwise): found out before anything is made. */
  const char *strings[] = {u->socket, u->holder_path, u->daemon_args[0], u->daemon_args[1], NULL};
  for (const char *const *p = strings; *p != NULL; p++)
    if (!utf8_valid((const unsigned char *)*p)) fall_back("a path of the union's daemon is not UTF-8");
  signal(SIGPIPE, SIG_IGN); /* a daemon or holder gone: EPIPE says it (exec_node restores it) */
  free(key.p), free(cgroups.p);
}

/* --- the helpers: launchInUserNamespace (src/engine/launch/userns-program.ts) --- */

enum { CLONE_NEWNS_ = 0x20000, CLONE_NEWUSER_ = 0x10000000 };

/* Its plan as launch.ts launchPlan and nsexec.ts encodePlan make it: root of a new user namespace with
   the run's maps, a mount namespace of its own (rslave), no root of its own, cwd /; `detach`: the
   daemon's (its helper exits once it is cloned, no parent-death signal); `on_its_own`: the helper
   goes on to the exec without us once its tools wrote both maps (docs/wire.md, ON_ITS_OWN). */
static void userns_plan(const struct run *r, char *const *args, char *const *env, int detach, int on_its_own, struct buf *plan) {
  buf_u32(plan, WIRE_MAGIC), buf_u32(plan, WIRE_VERSION);
  record_u32(plan, TAG_PDEATHSIG, 9 /* SIGKILL */);
  record_u32(plan, TAG_CLONE_FLAGS, CLONE_NEWUSER_ | CLONE_NEWNS_);
  id_map(plan, 0, &r->subuid, r->uid);
  id_map(plan, 1, &r->subgid, r->gid);
  record_u32(plan, TAG_PROPAGATION, MS_REC_ | MS_SLAVE_);
  record_strs(plan, TAG_CWD, "/", NULL);
  struct buf user = {0};
  buf_u32(&user, 0), buf_u32(&user, 0);
  plan_record(plan, TAG_USER, &user);
  free(user.p);
  int home = 0;
  for (char *const *a = args; *a != NULL; a++) record_strs(plan, TAG_ARG, *a, NULL);
  for (char *const *e = env; *e != NULL; e++) record_strs(plan, TAG_ENV, *e, NULL), home |= strncmp(*e, "HOME=", 5) == 0;
  if (detach) plan_record(plan, TAG_DETACH, &(struct buf){0});
  if (!home) plan_record(plan, TAG_HOME, &(struct buf){0}); /* plan.ts defaultHome */
  if (on_its_own) plan_record(plan, TAG_ON_ITS_OWN, &(struct buf){0});
}

/* What the helper said on fd 5 (a step's failure, the id map tool's words after it), in `u->error`. */
static void helper_failed(struct union_mount *u, const char *what, int fail) {
  unsigned char failure[12];
  if (read_full(fail, failure, sizeof failure) != 0) {
    say(u, "cannot start %s: its helper ended before it ran", what);
    return;
  }
  uint32_t step;
  int32_t err;
  memcpy(&step, failure, 4), memcpy(&err, failure + 4, 4);
  char text[4097] = "";
  if (step == STEP_ID_MAP) {
    ssize_t n = read(fail, text, sizeof text - 1);
    text[n > 0 ? n : 0] = '\0';
  }
  say(u, "cannot start %s: the helper's step %u failed: %s%s%s", what, (unsigned)step, strerror(err), *text ? ": " : "", text);
}

static int launch_start(struct union_mount *u, const struct buf *plan, const int stdio[3], int on_its_own, const char *what,
                        struct union_launch *l) {
  *l = (struct union_launch){.on_its_own = on_its_own, .sync = -1, .fail = -1};
  l->helper = helper_start(u->helper, plan, stdio, &l->sync, &l->fail);
  if (l->helper < 0) say(u, "cannot start %s: cannot start its helper %s: %s", what, u->helper, strerror(errno));
  return l->helper < 0 ? -1 : 0;
}

/* createContainer then start(): the maps written (the user alone's by us), the process exec'd (GO
   sent, unless on its own). The process's pid (host pid namespace); -1 with u->error, all ended. */
static pid_t launch_finish(struct union_mount *u, struct union_launch *l, const char *what) {
  unsigned char msg[5];
  pid_t child = 0;
  if (read_full(l->sync, msg, 5) != 0 || msg[0] != SYNC_CLONED) goto failed;
  memcpy(&child, msg + 1, 4);
  if (!l->on_its_own && write_own_maps(u->r, child) != 0) {
    say(u, "cannot start %s: cannot write its id maps: %s", what, strerror(errno));
    goto killed;
  }
  msg[0] = SYNC_MAPPED;
  if ((!l->on_its_own && write_full(l->sync, msg, 1) != 0) || read_full(l->sync, msg, 1) != 0 || msg[0] != SYNC_READY) goto failed;
  msg[0] = SYNC_GO;
  if (!l->on_its_own && write_full(l->sync, msg, 1) != 0) goto failed;
  unsigned char first;
  ssize_t said;
  while ((said = recv(l->fail, &first, 1, MSG_PEEK)) < 0 && errno == EINTR) {}
  if (said != 0) goto failed; /* EOF: it exec'd */
  close(l->sync), close(l->fail);
  l->sync = l->fail = -1;
  return l->child = child;
failed:
  helper_failed(u, what, l->fail);
killed:
  if (child > 0) kill(child, SIGKILL); /* a detached one's helper is gone already */
  kill(l->helper, SIGKILL);
  wait_status(l->helper);
  l->helper = 0;
  close(l->sync), close(l->fail);
  l->sync = l->fail = -1;
  return -1;
}

static pid_t launch(struct union_mount *u, const struct buf *plan, const int stdio[3], const char *what, pid_t *helper) {
  struct union_launch l;
  if (launch_start(u, plan, stdio, 0, what, &l) != 0) return -1;
  pid_t child = launch_finish(u, &l, what);
  *helper = l.helper;
  return child;
}

/* --- the daemon: shared-union.ts connectShared and startDaemon --- */

/* How long a run waits for another to start the daemon (its Node start: well under a second). */
enum { LOCK_WAIT_MS = 10000 };

static int try_lock(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) close(fd), fd = -1;
  return fd;
}

static void unlock(struct union_mount *u) {
  if (u->lock_fd >= 0) close(u->lock_fd);
  u->lock_fd = -1;
}

/* seqpacket.ts connectSeqpacket: the connection, or -1 (errno ENOENT or ECONNREFUSED: none listens). */
static int connect_to(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path); /* its length checked by union_check */
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    fd = -1, errno = err;
  }
  return fd;
}

/* startDaemon's environment: the CLI's as process.env lists it (node_environ: a name given twice
   once; bundle-loader.cts: without NODE_EXTRA_CA_CERTS, with its code cache's folder) without the
   run's HUTCH_FS_* settings (but the page drop's, the limit's and the loop's) nor HUTCH_FAULT, then the
   daemon's own. */
static char **daemon_env(const struct union_mount *u) {
  char **cli = node_environ();
  size_t n = 0;
  while (cli[n] != NULL) n++;
  char **env = calloc(n + 6, sizeof(char *));
  if (env == NULL) fall_back("out of memory");
  static const char *const KEPT[] = {"HUTCH_FS_IDLE_MS=", "HUTCH_FS_PAGES=", "HUTCH_FS_SHARED_MAX=",
                                      "HUTCH_FS_FAST=",    "HUTCH_FS_SPIN_US=", "HUTCH_FS_CHANNELS=", NULL};
  size_t k = 0;
  for (char **e = cli; *e != NULL; e++) {
    if (strncmp(*e, "NODE_EXTRA_CA_CERTS=", 20) == 0 || strncmp(*e, "HUTCH_FAULT=", 12) == 0) continue;
    int kept = strncmp(*e, "HUTCH_FS_", 9) != 0;
    for (const char *const *v = KEPT; *v != NULL; v++) kept |= strncmp(*e, *v, strlen(*v)) == 0;
    if (kept) env[k++] = *e;
  }
  free(cli);
  char *cache = getenv("HUTCH_CODE_CACHE_DIR") == NULL ? code_cache_dir() : NULL;
  if (cache != NULL) env[k++] = str_cat("HUTCH_CODE_CACHE_DIR=", cache, "");
  env[k++] = "HUTCH_FS_READY_FD=1";
  env[k++] = str_cat("HUTCH_FS_SHARED_SOCKET=", u->socket, "");
  env[k++] = str_cat("HUTCH_FS_SHARED_LOCK=", u->lock, "");
  env[k++] = str_cat("HUTCH_FS_LINGER=", linger_setting(1), "");
  return env;
}

void union_daemon_plan(const struct union_mount *u, struct buf *plan) {
  userns_plan(u->r, u->daemon_args, daemon_env(u), 1, 0, plan);
}

/* Starts the daemon detached (the place's lock held): its ready pipe in u->daemon_ready. */
static int start_daemon(struct union_mount *u) {
  char *old = str_cat(u->log, ".old", ""); /* one log per daemon: the last one's kept beside it */
  rename(u->log, old);
  free(old);
  int log = open(u->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600), ready[2];
  if (log < 0 || pipe2(ready, O_CLOEXEC) != 0) {
    say(u, "cannot start the shared union filesystem daemon: cannot open its log %s: %s", u->log, strerror(errno));
    if (log >= 0) close(log);
    return -1;
  }
  struct buf plan = {0};
  union_daemon_plan(u, &plan);
  pid_t helper;
  pid_t daemon = launch(u, &plan, (int[3]){STDIO_NULL, ready[1], log}, "the shared union filesystem daemon", &helper);
  free(plan.p);
  close(ready[1]), close(log);
  if (daemon < 0) {
    close(ready[0]);
    return -1;
  }
  wait_status(helper); /* gone once it cloned the daemon */
  u->daemon_ready = ready[0];
  return 0;
}

/* The daemon's part of union_begin: connected, started, or left to union_mount (another run starts it). */
static int begin_daemon(struct union_mount *u) {
  u->lock_fd = try_lock(u->lock);
  if (u->lock_fd < 0) return 0; /* another run starts the daemon, or it leaves: union_mount waits */
  u->conn = connect_to(u->socket);
  if (u->conn >= 0) {
    unlock(u);
    return 0;
  }
  if (errno != ENOENT && errno != ECONNREFUSED) {
    say(u, "cannot connect to the shared union filesystem daemon at %s: %s", u->socket, strerror(errno));
    unlock(u);
    return -1;
  }
  if (start_daemon(u) != 0) {
    unlock(u);
    return -1;
  }
  return 0;
}

void union_holder_plan(const struct union_mount *u, const char *mountpoint, struct buf *plan) {
  /* holderArgs: MOUNTPOINT as parseFsArgs resolves it, no SOURCE (fsname hutch-fs), daemonArgs's flags. */
  char *waiting[] = {u->holder_path, "-", NULL}, *no_env[] = {NULL};
  char *given[] = {u->holder_path, mountpoint != NULL ? path_resolve("/", mountpoint) : NULL, "hutch-fs", "nosuid,nodev", NULL};
  int on_its_own = mountpoint == NULL && u->r->subuid.n > 0 && u->r->subgid.n > 0;
  userns_plan(u->r, mountpoint == NULL ? waiting : given, no_env, 0, on_its_own, plan);
}

/* preheld-holder.ts preholdUnion's C holder, once the daemon is exec'd: `hutch-fs-holder -`, waiting
   for its line on its stdin. Without it (its start failed) union_mount starts one as ever, which
   says why if that fails too. */
static void hold_early(struct union_mount *u) {
  int args[2], ready[2];
  if (pipe2(args, O_CLOEXEC) != 0) return;
  if (pipe2(ready, O_CLOEXEC) != 0) {
    close(args[0]), close(args[1]);
    return;
  }
  int on_its_own = u->r->subuid.n > 0 && u->r->subgid.n > 0; /* the tools write both maps */
  struct buf plan = {0};
  union_holder_plan(u, NULL, &plan);
  const char *what = "the union filesystem's holder";
  int started = launch_start(u, &plan, (int[3]){args[0], ready[1], STDIO_INHERIT}, on_its_own, what, &u->early) == 0;
  free(plan.p);
  close(args[0]), close(ready[1]);
  if (started && (on_its_own || launch_finish(u, &u->early, what) > 0)) {
    u->holder_args = args[1], u->holder_ready = ready[0], u->holder_helper = u->early.helper;
    return;
  }
  u->error[0] = '\0';
  close(args[1]), close(ready[0]);
}

/* The daemons' folder RUN/fsd, made when missing. */
static int place_folder(struct union_mount *u) {
  char *dir = str_cat(u->r->run, "/fsd", "");
  int made = mkdir_p(dir, 0700);
  free(dir);
  if (made != 0) say(u, "cannot make the shared union filesystem daemon's folder %s/fsd: %s", u->r->run, strerror(errno));
  return made;
}

int union_begin(struct union_mount *u) {
  if (place_folder(u) != 0 || begin_daemon(u) != 0) return -1;
  hold_early(u);
  return 0;
}

/* ready-line.ts readReadyLine: up to the newline, or what came before the end. */
static char *ready_line(int fd) {
  struct buf said = {0};
  char chunk[512];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf_add(&said, chunk, (size_t)n);
    if (memchr(chunk, '\n', (size_t)n) != NULL) break;
  }
  char *s = buf_cstr(&said);
  free(said.p);
  return s;
}

/* The daemon's or the holder's words without "hutch-fs: " and the white space around them. */
static const char *words_of(char *said) {
  char *s = strncmp(said, "hutch-fs: ", 10) == 0 ? said + 10 : said;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  size_t n = strlen(s);
  while (n > 0 && strchr(" \t\n\r", s[n - 1]) != NULL) s[--n] = '\0';
  return s;
}

/* connectShared once union_begin went on: the daemon this run started waited for, or the lock
   waited for (another run starts it) and the daemon connected to or started; u->conn, the lock freed. */
static int connect_shared(struct union_mount *u) {
  if (u->daemon_ready < 0) {
    uint64_t deadline = now_ms() + LOCK_WAIT_MS;
    while ((u->lock_fd = try_lock(u->lock)) < 0) {
      if (now_ms() > deadline) {
        say(u,
            "cannot reach the shared union filesystem daemon: its lock %s was held for %d s\n"
            "hint: another hutch is starting it; if none is, `hutch system reset` clears the runtime folder",
            u->lock, LOCK_WAIT_MS / 1000);
        return -1;
      }
      nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    u->conn = connect_to(u->socket);
    if (u->conn >= 0) {
      unlock(u);
      return 0;
    }
    if (start_daemon(u) != 0) {
      unlock(u);
      return -1;
    }
  }
  char *said = ready_line(u->daemon_ready);
  close(u->daemon_ready);
  u->daemon_ready = -1;
  if (strncmp(said, "ok", 2) != 0) {
    const char *why = words_of(said);
    say(u, "cannot start the shared union filesystem daemon: %s\nhint: see its log %s; HUTCH_FS_SHARED=0 runs a daemon per container",
        *why ? why : "it exited", u->log);
  } else if ((u->conn = connect_to(u->socket)) < 0) {
    say(u, "the shared union filesystem daemon said it listens on %s but refuses\nhint: see its log %s", u->socket, u->log);
  }
  free(said);
  unlock(u);
  return u->conn >= 0 ? 0 : -1;
}

/* storage.ts daemonPid: the shared daemon's pid from the file it writes before it listens, with its start. */
static void note_daemon(struct union_mount *u) {
  struct buf text = {0};
  char *file = str_cat(u->socket, ".pid", "");
  if (read_text(file, &text) == 0) {
    long pid = strtol(buf_cstr(&text), NULL, 10);
    u->daemon_pid = pid > 0 && pid < INT_MAX ? (pid_t)pid : 0;
    u->daemon_start = u->daemon_pid > 0 ? process_start(u->daemon_pid) : -1;
  }
  free(text.p), free(file);
}

void union_start_ahead(struct union_mount *u) {
  if (place_folder(u) == 0 && (u->lock_fd = try_lock(u->lock)) >= 0) { /* else another run starts it, or it leaves */
    /* Its pid file is written once it listens and removed as it leaves, under this lock: a live pid
       there (note_daemon found its start: not gone, not a zombie) is a daemon listening. Not a
       connection to see: a daemon lingering 0 s would take a client that mounts nothing for its
       last and leave. */
    note_daemon(u);
    int listening = u->daemon_start >= 0;
    u->daemon_pid = 0, u->daemon_start = -1;
    /* The start (its helper, the id maps) and the wait for its line are a process's of their own,
       holding the lock meanwhile: Node's start is not kept waiting for them. Forked twice, so that
       nobody need reap it; its stdio /dev/null, so that a reader of the caller's pipe waits for no one. */
    if (!listening) linger_setting(1); /* its warning said here: the daemon's start below writes nowhere */
    pid_t child = listening ? -1 : fork();
    if (child == 0) {
      if (fork() != 0) _exit(0); /* a failed fork: the lock goes, the Node run starts the daemon */
      int null = open("/dev/null", O_RDWR);
      if (null >= 0) dup2(null, 0), dup2(null, 1), dup2(null, 2);
      if (start_daemon(u) == 0) {
        struct pollfd ready = {.fd = u->daemon_ready, .events = POLLIN};
        if (poll(&ready, 1, LOCK_WAIT_MS) > 0) free(ready_line(u->daemon_ready)); /* its line, or its end */
      }
      _exit(0); /* the lock goes with this process's last fd of it */
    }
    if (child > 0) wait_status(child);
    unlock(u);
  }
  u->error[0] = '\0';
}

/* --- the holder: shared-union.ts startSharedHolder, storage.ts stopHolder --- */

/* mount.ts daemonArgs's escape: a backslash before each ':', ',' and '\' of a path. */
static void escaped(struct buf *out, const char *path) {
  for (const char *c = path; *c; c++) {
    if (*c == ':' || *c == ',' || *c == '\\') buf_add(out, "\\", 1);
    buf_add(out, c, 1);
  }
}

/* JSON.stringify of a string (UTF-8 checked by buf_str's callers: the paths came through the plan). */
static void json_string(struct buf *out, const char *s) {
  buf_add(out, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    static const char SHORT[] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't'};
    char esc[8];
    if (*c == '"' || *c == '\\') esc[0] = '\\', esc[1] = (char)*c, esc[2] = '\0';
    else if (*c < sizeof SHORT && SHORT[*c]) esc[0] = '\\', esc[1] = SHORT[*c], esc[2] = '\0';
    else if (*c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", *c);
    else esc[0] = (char)*c, esc[1] = '\0';
    buf_add(out, esc, strlen(esc));
  }
  buf_add(out, "\"", 1);
}

/* daemonArgs for image layers ({dir, indexFile} each) without squashfs, as encodeArgsLine sends them:
   {"args":["-f","-o","lowerdir=...,upperdir=...,workdir=...,lowerindex=...[,overrideonly],nosuid,nodev",MOUNTPOINT]}\n */
char *union_args_line(const struct run *r, const struct union_layer *lowers, int nlowers, const char *upper, const char *work,
                       const char *mountpoint) {
  struct buf o = {0}, line = {0};
  buf_add(&o, "lowerdir=", 9);
  for (int i = 0; i < nlowers; i++) buf_add(&o, ":", i > 0), escaped(&o, lowers[i].dir);
  buf_add(&o, ",upperdir=", 10), escaped(&o, upper);
  buf_add(&o, ",workdir=", 9), escaped(&o, work);
  if (nlowers > 0) buf_add(&o, ",lowerindex=", 12);
  for (int i = 0; i < nlowers; i++) buf_add(&o, ":", i > 0), escaped(&o, lowers[i].index);
  if (r->subuid.n == 0) buf_add(&o, ",overrideonly", 13); /* one uid mapped (storage.ts `single`) */
  buf_add(&o, ",nosuid,nodev", 13);
  char *opts = buf_cstr(&o);
  buf_add(&line, "{\"args\":[\"-f\",\"-o\",", 19);
  json_string(&line, opts);
  buf_add(&line, ",", 1);
  json_string(&line, mountpoint);
  buf_add(&line, "]}\n", 3);
  char *s = buf_cstr(&line);
  free(o.p), free(line.p), free(opts);
  return s;
}

/* What the daemon said before it closed the connection (after the ECONNRESET the kernel says once). */
static char *last_words(int conn) {
  char said[600];
  for (int attempt = 0; attempt < 2; attempt++) {
    ssize_t n = recv(conn, said, sizeof said - 1, MSG_DONTWAIT);
    if (n >= 0) return said[n] = '\0', strdup(said);
  }
  return strdup("");
}

/* The holder's ready line: "ok", or u->error said from its words. */
static int holder_said(struct union_mount *u) {
  char *said = ready_line(u->holder_ready);
  close(u->holder_ready);
  u->holder_ready = -1;
  int ok = strncmp(said, "ok", 2) == 0;
  if (!ok) {
    const char *why = words_of(said);
    int refused = strstr(why, "the shared union daemon (pid ") != NULL; /* at its limits: it says what to do */
    say(u, "cannot mount the union filesystem: %s%s", *why ? why : "the daemon exited",
        refused ? "" : "\nhint: check /dev/fuse (crw-rw-rw-) and `hutch system info`; --storage-driver=vfs avoids FUSE");
  }
  free(said);
  return ok ? 0 : -1;
}

/* The early holder's end before it had a line: its stdin's end lets it exit 0 having touched nothing. */
static void stop_holder(struct union_mount *u);

/* storage.ts useSharedHolder: the early holder sent its line (holderLineFor: SOCKET MOUNTPOINT FSNAME
   FLAGS LOG ARGS, tab-separated; it connects itself) while our connection is held, so that the
   daemon cannot leave before the holder's comes; 1 when it is not to be used (its launch failed,
   a field holds a tab or a newline): ended, union_mount starts one as ever. */
static int mount_early(struct union_mount *u, char *const *holder_args, const char *line) {
  if (u->early.child == 0 && launch_finish(u, &u->early, "the union filesystem's holder") < 0)
    u->error[0] = '\0', u->holder_helper = 0; /* ended and waited for */
  struct buf held = {0};
  const char *fields[] = {u->socket, holder_args[1], holder_args[2], holder_args[3], "", line};
  int plain = u->early.child > 0;
  for (int i = 0; i < 6; i++) {
    size_t n = strlen(fields[i]) - (i == 5); /* the args line without its newline (trimEnd) */
    plain &= memchr(fields[i], '\t', n) == NULL && memchr(fields[i], '\n', n) == NULL;
    buf_add(&held, fields[i], n), buf_add(&held, i < 5 ? "\t" : "\n", 1);
  }
  if (!plain) {
    free(held.p);
    if (u->early.child > 0 && u->early_taken) { /* its namespaces are the caller's already: no other holder */
      say(u, "cannot give the union's holder its line: a path holds a tab or a newline");
      return -1;
    }
    stop_holder(u);
    return 1;
  }
  write_full(u->holder_args, held.p, held.len); /* EPIPE: it died; its ready pipe says so */
  free(held.p);
  close(u->holder_args);
  u->holder_args = -1;
  int said = holder_said(u);
  close(u->conn);
  u->conn = -1;
  if (said == 0) u->holder = u->early.child, note_daemon(u);
  return said;
}

pid_t union_holder_early(struct union_mount *u) {
  if (u->holder_args < 0) return 0;
  if (u->early.child == 0 && launch_finish(u, &u->early, "the union filesystem's holder") < 0) {
    u->error[0] = '\0', u->holder_helper = 0; /* ended and waited for: union_mount starts one as ever */
    stop_holder(u);
    return 0;
  }
  u->early_taken = 1;
  return u->early.child;
}

int union_mount(struct union_mount *u, const struct union_layer *lowers, int nlowers, const char *upper, const char *work,
                const char *mountpoint) {
  if (u->conn < 0 && connect_shared(u) != 0) return -1;
  char *line = union_args_line(u->r, lowers, nlowers, upper, work, mountpoint);
  char *holder_args[] = {u->holder_path, path_resolve("/", mountpoint), "hutch-fs", "nosuid,nodev", NULL};
  int early = u->holder_args >= 0 ? mount_early(u, holder_args, line) : 1;
  if (early <= 0) {
    free(line);
    return early;
  }
  ssize_t sent = send(u->conn, line, strlen(line), MSG_NOSIGNAL);
  int err = errno;
  free(line);
  if (sent < 0) { /* a daemon out of fds at its accept refuses at once, in words, and closes (fuse/shared.ts) */
    char *said = last_words(u->conn);
    if (strncmp(said, "hutch-fs: ", 10) == 0) say(u, "cannot mount the union filesystem: %s", words_of(said));
    else say(u, "cannot send the union's arguments to the shared union filesystem daemon at %s: %s", u->socket, strerror(err));
    free(said);
    return -1;
  }
  struct buf plan = {0};
  union_holder_plan(u, mountpoint, &plan);
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    say(u, "cannot start the union filesystem's holder: %s", strerror(errno));
    free(plan.p);
    return -1;
  }
  pid_t holder = launch(u, &plan, (int[3]){u->conn, ready[1], STDIO_INHERIT}, "the union filesystem's holder", &u->holder_helper);
  free(plan.p);
  close(ready[1]);
  close(u->conn); /* the holder's from here on */
  u->conn = -1;
  if (holder < 0) {
    close(ready[0]);
    return -1;
  }
  u->holder_ready = ready[0];
  if (holder_said(u) != 0) return -1;
  u->holder = holder;
  note_daemon(u);
  return 0;
}

int union_watch_fd(const struct union_mount *u) {
  return u->holder_helper > 0 ? (int)syscall(SYS_pidfd_open, u->holder_helper, 0) : -1;
}

const char *union_died(struct union_mount *u) {
  static char why[200];
  int status;
  if (u->holder > 0 && u->holder_helper > 0 && waitpid(u->holder_helper, &status, WNOHANG) == u->holder_helper) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* The holder exits 1 when the shared daemon's connection ends (docs/storage.md). */
    if (code == 1) snprintf(why, sizeof why, "the union filesystem daemon ended (the container's holder, pid %d, saw it go)", (int)u->holder);
    else snprintf(why, sizeof why, "the union filesystem daemon's holder (pid %d) ended with status %d", (int)u->holder, code);
    u->holder_helper = 0; /* waited for: nothing to stop */
    return why;
  }
  if (u->daemon_start >= 0 && process_start(u->daemon_pid) != u->daemon_start) /* served(): the container often ends first */
    return "the union filesystem daemon ended while the container ran";
  return NULL;
}

static void stop_holder(struct union_mount *u) {
  if (u->holder_args >= 0) close(u->holder_args); /* a holder still waiting for its line exits 0 */
  if (u->early.sync >= 0) close(u->early.sync), close(u->early.fail);
  u->holder_args = u->early.sync = u->early.fail = -1;
  if (u->holder_helper > 0) { /* stopHolder: SIGTERM, SIGKILL after 5 s */
    int pidfd = (int)syscall(SYS_pidfd_open, u->holder_helper, 0);
    kill(u->holder_helper, SIGTERM);
    struct pollfd exited = {pidfd, POLLIN, 0};
    if (pidfd >= 0 && poll(&exited, 1, 5000) == 0) kill(u->holder_helper, SIGKILL);
    if (pidfd >= 0) close(pidfd);
    wait_status(u->holder_helper);
  }
  if (u->holder_ready >= 0) close(u->holder_ready);
  u->holder_ready = -1;
  u->holder_helper = u->holder = u->early.helper = u->early.child = 0;
}

void union_stop(struct union_mount *u) {
  stop_holder(u);
  if (u->conn >= 0) close(u->conn);
  if (u->daemon_ready >= 0) close(u->daemon_ready);
  u->conn = u->daemon_ready = -1;
  unlock(u);
}
