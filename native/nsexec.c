/*
 * hutch-nsexec: the single-threaded part of hutch (docs/architecture.md, "Rules the code follows").
 *
 * It decides nothing. TypeScript hands it a plan on fd 3 (native/wire.h, docs/wire.md); it reads
 * the whole plan, clones the child into the namespaces the plan names, and the child carries the
 * plan out step by step: wait for the id maps, mounts, pivot_root, hostname, rlimits, pty, wait
 * for "go", credentials, capabilities, no_new_privs, seccomp, exec. Any failure is written to
 * fd 5 as {step, errno, record} and the process exits 125. The parent stays in the caller's
 * namespaces, runs the id map tools on the child (ID_MAP), forwards signals to the child and
 * exits with the child's status.
 * No allocation after clone: the plan lives in a static buffer and is walked in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sendfile.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <stdio.h>

#include "wire.h"

#define PLAN_FD 3
#define SYNC_FD 4
#define FAIL_FD 5
#define MAX_STRINGS 4096

extern char **environ;

static unsigned char plan[WIRE_MAX_PLAN];
static size_t plan_len;
static char *argv_list[MAX_STRINGS + 1];
static char *env_list[MAX_STRINGS + 1];
static size_t argc_plan, envc_plan;
static volatile pid_t forward_to; /* the process signals are forwarded to */
static int console_fd = -1;       /* connected before any namespace is joined: the socket is a host path */

/* One record of the plan, walked in place. */
struct record {
  uint16_t tag;
  uint32_t len;
  const unsigned char *data;
  uint32_t index; /* position in the plan, reported with failures */
};

/* The failure pipe: fd 5, until preserved fds take 3.. (preserve_fds moves it above them). */
static int fail_fd = FAIL_FD;

/* Writes {step, errno, record} to fd 5 and exits 125: the only way a step fails. */
static void __attribute__((noreturn)) die(uint32_t step, int err, uint32_t index) {
  int32_t msg[3] = {(int32_t)step, err, (int32_t)index};
  signal(SIGPIPE, SIG_IGN); /* nobody may read fd 5 any more (a detached OCI container) */
  ssize_t ignored = write(fail_fd, msg, sizeof msg);
  (void)ignored;
  /* Then the status says it too, as a shell would: 127 not found, 126 not executable. */
  _exit(step == STEP_EXEC ? (err == ENOENT || err == ENOTDIR ? 127 : 126) : 125);
}

/* die() for a step that has words to add (ID_MAP: the tool's stderr), after the record on fd 5. */
static void __attribute__((noreturn)) die_text(uint32_t step, int err, uint32_t index, const char *text, size_t len) {
  unsigned char msg[12 + 4096];
  int32_t head[3] = {(int32_t)step, err, (int32_t)index};
  memcpy(msg, head, sizeof head);
  if (len > sizeof msg - 12) len = sizeof msg - 12;
  memcpy(msg + 12, text, len);
  signal(SIGPIPE, SIG_IGN);
  ssize_t ignored = write(fail_fd, msg, 12 + len);
  (void)ignored;
  _exit(125);
}

/* The kernel's own limit on supplementary groups (NGROUPS_MAX in linux/limits.h). */
#define NGROUPS_LIMIT 65536

static uint32_t get_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Reads string number `n` of a record (u32 len counting the NUL, bytes, NUL). */
static const char *get_string(const struct record *r, size_t offset, size_t n) {
  for (;;) {
    if (offset + 4 > r->len) die(STEP_PARSE_PLAN, EINVAL, r->index);
    uint32_t len = get_u32(r->data + offset);
    if (len == 0 || len > r->len - offset - 4 || r->data[offset + 4 + len - 1] != '\0')
      die(STEP_PARSE_PLAN, EINVAL, r->index);
    if (n == 0) return (const char *)r->data + offset + 4;
    offset += 4 + len;
    n--;
  }
}

/* Invariant: fd 3 holds the whole plan and is then closed; nothing has been cloned yet. */
static void read_plan(void) {
  for (;;) {
    if (plan_len == sizeof plan) die(STEP_READ_PLAN, EFBIG, 0);
    ssize_t n = read(PLAN_FD, plan + plan_len, sizeof plan - plan_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(STEP_READ_PLAN, errno, 0);
    if (n == 0) break;
    plan_len += (size_t)n;
  }
  close(PLAN_FD);
  if (plan_len < 8 || get_u32(plan) != WIRE_MAGIC) die(STEP_PARSE_PLAN, EBADMSG, 0);
  if (get_u32(plan + 4) != WIRE_VERSION) die(STEP_PARSE_PLAN, EPROTO, 0);
}

/* Steps to the record after `r` (or the first when r->data is NULL); 0 at the end. */
static int next_record(struct record *r) {
  size_t offset = r->data == NULL ? 8 : (size_t)(r->data - plan) + r->len;
  uint32_t index = r->data == NULL ? 0 : r->index + 1;
  if (offset == plan_len) return 0;
  if (offset + 6 > plan_len) die(STEP_PARSE_PLAN, EBADMSG, index);
  memcpy(&r->tag, plan + offset, 2);
  r->len = get_u32(plan + offset + 2);
  if (r->len > plan_len - offset - 6) die(STEP_PARSE_PLAN, EBADMSG, index);
  r->data = plan + offset + 6;
  r->index = index;
  return 1;
}

/* Invariant: the fds to preserve are open and lie above both their targets and the pty master. */
static void check_preserved(const struct record *r) {
  if (r->len != 8) die(STEP_PARSE_PLAN, EINVAL, r->index);
  uint32_t count = get_u32(r->data), first = get_u32(r->data + 4);
  if (count > 1024 || first <= PTY_MASTER_FD || first < 3 + count) die(STEP_PARSE_PLAN, EINVAL, r->index);
  for (uint32_t i = 0; i < count; i++)
    if (fcntl((int)(first + i), F_GETFD) < 0) die(STEP_PRESERVE_FDS, errno, r->index);
}

/* Invariant: the payload fits its tag's rule (wire.h wire_rules), strings included. */
static void check_length(const struct record *r) {
  const struct wire_rule *rule = &wire_rules[r->tag];
  int ok = 0;
  switch (rule->kind) {
  case LEN_EXACT: ok = r->len == rule->bytes; break;
  case LEN_MULTIPLE: ok = r->len % rule->bytes == 0; break;
  case LEN_COUNTED: ok = r->len >= 4 && (uint64_t)r->len == 4 + (uint64_t)rule->bytes * get_u32(r->data); break;
  case LEN_STRINGS:
    ok = r->len >= rule->bytes;
    if (ok) get_string(r, rule->bytes, rule->strings - 1u); /* walks (and checks) every string */
    break;
  default: die(STEP_PARSE_PLAN, ENOTSUP, r->index);
  }
  if (!ok) die(STEP_PARSE_PLAN, EINVAL, r->index);
}

/* ID_MAP's tool's arguments after the pid, split in place of a copy (no allocation after clone). */
#define MAX_MAP_WORDS 1024 /* 340 lines of 3 numbers: the kernel's limit on a map */
static char map_words[2][16384];
static char *map_argv[2][MAX_MAP_WORDS + 3];

/* Invariant: at most one ID_MAP per kind, an absolute tool, and "C H N ..." of whole numbers in threes. */
static void check_id_map(const struct record *r) {
  static int seen[2];
  uint32_t kind = get_u32(r->data);
  const char *tool = get_string(r, 4, 0), *args = get_string(r, 4, 1);
  if (kind > 1 || seen[kind]++ || tool[0] != '/' || strlen(args) >= sizeof map_words[0]) die(STEP_PARSE_PLAN, EINVAL, r->index);
  size_t words = 0;
  int in_word = 0;
  for (const char *c = args; *c; c++) {
    if (*c >= '0' && *c <= '9') words += !in_word, in_word = 1;
    else if (*c == ' ' && in_word) in_word = 0;
    else die(STEP_PARSE_PLAN, EINVAL, r->index);
  }
  if (!in_word || words % 3 != 0 || words > MAX_MAP_WORDS) die(STEP_PARSE_PLAN, EINVAL, r->index);
}

/* Invariant: every record has a known tag and a sane length; argv and envp are collected. */
static void check_plan(void) {
  struct record r = {0};
  while (next_record(&r)) {
    if (r.tag > TAG_MAX) die(STEP_PARSE_PLAN, ENOTSUP, r.index);
    check_length(&r);
    if (r.tag == TAG_ARG || r.tag == TAG_ENV) {
      size_t *count = r.tag == TAG_ARG ? &argc_plan : &envc_plan;
      if (*count == MAX_STRINGS) die(STEP_PARSE_PLAN, E2BIG, r.index);
      (r.tag == TAG_ARG ? argv_list : env_list)[(*count)++] = (char *)get_string(&r, 0, 0);
    }
    /* The kernel refuses an empty filter and one over BPF_MAXINSNS: say so at the plan, before clone. */
    if (r.tag == TAG_SECCOMP && (r.len == 0 || r.len / 8 > BPF_MAXINSNS)) die(STEP_PARSE_PLAN, EINVAL, r.index);
    if (r.tag == TAG_PRESERVE_FDS) check_preserved(&r);
    if (r.tag == TAG_ID_MAP) check_id_map(&r);
  }
  if (argc_plan == 0) die(STEP_PARSE_PLAN, ENOEXEC, 0);
}

/* The first record with `tag`, or NULL. */
static const struct record *find(uint16_t tag, struct record *out) {
  memset(out, 0, sizeof *out);
  while (next_record(out))
    if (out->tag == tag) return out;
  return NULL;
}

/*
 * Invariant: a plan ON_ITS_OWN has both maps written by its ID_MAP tools (a map hutch writes
 * itself comes after CLONED, which the child would not wait for), and nothing that needs hutch
 * between READY and exec (a pty master to take, a start fifo, a detached child).
 */
static void check_on_its_own(void) {
  struct record r = {0}, own;
  int maps = 0, waits = 0;
  while (next_record(&r)) {
    maps += r.tag == TAG_ID_MAP; /* at most one per kind (check_id_map) */
    waits += r.tag == TAG_TERMINAL || r.tag == TAG_START_FIFO || r.tag == TAG_DETACH;
  }
  if (find(TAG_ON_ITS_OWN, &own) && (maps != 2 || waits)) die(STEP_PARSE_PLAN, EINVAL, own.index);
}

static void sync_read(uint8_t want) {
  uint8_t got;
  ssize_t n;
  do n = read(SYNC_FD, &got, 1); while (n < 0 && errno == EINTR);
  if (n != 1) die(STEP_SYNC, n == 0 ? EPIPE : errno, 0);
  if (got != want) die(STEP_SYNC, EPROTO, 0);
}

static void sync_write(const void *buf, size_t len) {
  if (write(SYNC_FD, buf, len) != (ssize_t)len) die(STEP_SYNC, errno, 0);
}

static void forward_signal(int sig) {
  if (forward_to > 0) kill(forward_to, sig);
}

/* Signals hutch forwards to the container's process (everything a user sends to stop or poke it). */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

static void install_forwarding(pid_t to) {
  forward_to = to;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &sa, NULL);
}

/* Waits for `child`, reaping anything else (as PID 1); returns the shell-style status. */
static int wait_for(pid_t child) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) return 125;
    if (pid != child) continue;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  }
}


/* Creates `path`'s missing parent directories (and `path` itself when `last` is set). */
static int mkdir_parents(const char *path, int last) {
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf) return ENAMETOOLONG;
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return errno;
    *p = '/';
  }
  if (last && mkdir(buf, 0755) < 0 && errno != EEXIST) return errno;
  return 0;
}

/* The flags of the mount at `path` that a remount inside a user namespace must keep (locked). */
static unsigned long locked_flags(const char *path) {
  struct statvfs st;
  if (statvfs(path, &st) < 0) return 0;
  unsigned long out = 0;
  if (st.f_flag & ST_NOSUID) out |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) out |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) out |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

static int remount_ro(const char *path) {
  return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(path), NULL);
}

static int rootfs_fd = -1; /* the rootfs once bound on itself; targets under it resolve inside it */
static const char *rootfs_path;
static size_t rootfs_len;

static int open_in_root(const char *rel, uint64_t flags, uint64_t resolve) {
  struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve};
  return (int)syscall(SYS_openat2, rootfs_fd, rel, &how, sizeof how);
}

/*
 * Opens (O_PATH) the mount target `rel` inside the rootfs, creating what is missing: every component
 * resolves inside the root (openat2 RESOLVE_IN_ROOT), so a symlink in an image can neither point a
 * mount at the host nor make us create anything outside the rootfs. `last`: 1 dir, 2 file, 0 none;
 * what is made gets dir_mode (the parents) or last_mode (under the umask).
 */
static int open_target_modes(const char *rel, int last, uint64_t resolve, mode_t dir_mode, mode_t last_mode, int *out) {
  char buf[4096];
  size_t len = strlen(rel);
  if (len >= sizeof buf) return ENAMETOOLONG;
  memcpy(buf, rel, len + 1);
  int parent = open_in_root(".", O_PATH | O_DIRECTORY, 0);
  if (parent < 0) return errno;
  for (char *comp = buf; *comp;) {
    char *end = strchr(comp, '/');
    int is_last = end == NULL || end[strspn(end, "/")] == '\0';
    if (end) *end = '\0';
    int fd = open_in_root(buf, O_PATH, resolve);
    int want = is_last ? last : 1;
    if (fd < 0 && errno == ENOENT && want) {
      mode_t mode = is_last ? last_mode : dir_mode;
      int rc = want == 1 ? mkdirat(parent, comp, mode) : openat(parent, comp, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
      if (rc < 0 && errno != EEXIST) { int err = errno; close(parent); return err; }
      if (want == 2 && rc >= 0) close(rc);
      fd = open_in_root(buf, O_PATH, resolve);
    }
    if (fd < 0) { int err = errno; close(parent); return err; }
    close(parent);
    parent = fd;
    if (!end) break;
    *end = '/';
    comp = end + strspn(end, "/");
  }
  *out = parent;
  return 0;
}

/* Mount targets: directories 0755, a file 0644 (under the umask). */
static int open_target_in_root(const char *rel, int last, uint64_t resolve, int *out) {
  return open_target_modes(rel, last, resolve, 0755, last == 2 ? 0644 : 0755, out);
}

/* The path mount(2) is given: the target itself, or /proc/self/fd/N for one resolved in the root. */
static const char *target_path(const char *target, uint32_t ops, int *fd, char *buf, size_t size, uint32_t index) {
  if (rootfs_fd < 0 || strncmp(target, rootfs_path, rootfs_len) != 0 || (target[rootfs_len] != '/' && target[rootfs_len])) {
    int err = (ops & (MOUNT_OP_MKDIR | MOUNT_OP_MKFILE)) ? mkdir_parents(target, ops & MOUNT_OP_MKDIR) : 0;
    if (err) die(STEP_MOUNT, err, index);
    if (ops & MOUNT_OP_MKFILE) {
      int f = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (f < 0 && errno != EISDIR) die(STEP_MOUNT, errno, index);
      if (f >= 0) close(f);
    }
    return target;
  }
  const char *rel = target + rootfs_len + strspn(target + rootfs_len, "/");
  int last = (ops & MOUNT_OP_MKDIR) ? 1 : (ops & MOUNT_OP_MKFILE) ? 2 : 0;
  /* proc and sysfs go on an ordinary directory (runc): a symlink there would carry the masks elsewhere. */
  int err = open_target_in_root(*rel ? rel : ".", last, (ops & MOUNT_OP_NO_SYMLINKS) ? RESOLVE_NO_SYMLINKS : 0, fd);
  if (err) die(STEP_MOUNT, err, index);
  snprintf(buf, size, "/proc/self/fd/%d", *fd);
  return buf;
}

#include "oci-steps.c"
#include "root-steps.c"

static int is_rootfs(const char *target) {
  return rootfs_fd >= 0 && strncmp(target, rootfs_path, rootfs_len) == 0 && target[rootfs_len + strspn(target + rootfs_len, "/")] == '\0';
}

/* Invariant: rootfs_fd names the top mount at the rootfs: a mount on the rootfs itself (the tmpfs
   root of `hutch sandbox`) covers the bound directory, and later targets resolve inside the new mount. */
static void reopen_rootfs(uint32_t index) {
  close(rootfs_fd);
  rootfs_fd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfs_fd < 0) die(STEP_ROOTFS, errno, index);
}

/* Invariant: the target exists (created if asked, inside the rootfs) and carries the mount; ro binds are ro. */
static void do_mount(const struct record *r) {
  uint32_t flags = get_u32(r->data), ops = get_u32(r->data + 4);
  const char *source = get_string(r, 8, 0), *target = get_string(r, 8, 1);
  const char *fstype = get_string(r, 8, 2), *data = get_string(r, 8, 3);
  char buf[64];
  int fd = -1;
  const char *path = target_path(target, ops, &fd, buf, sizeof buf, r->index);
  int under = (ops & MOUNT_OP_COPYUP) ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if ((ops & MOUNT_OP_COPYUP) && under < 0) die(STEP_COPYUP, errno, r->index);
  if (mount(*source ? source : NULL, path, *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0)
    die(STEP_MOUNT, errno, r->index);
  if (fd >= 0) close(fd);
  if (is_rootfs(target)) reopen_rootfs(r->index);
  if (under >= 0) {
    path = target_path(target, 0, &fd, buf, sizeof buf, r->index);
    copy_up(under, path, r->index);
    if (fd >= 0) close(fd);
  }
  if (ops & MOUNT_OP_REMOUNT_RO) {
    /* The fd named the directory under the new mount: look the target up again to reach the mount. */
    path = target_path(target, 0, &fd, buf, sizeof buf, r->index);
    if (remount_ro(path) < 0) die(STEP_MOUNT, errno, r->index);
    if (fd >= 0) close(fd);
  }
}

/*
 * For a mask or read-only path: 0 and the path mount(2) takes (under the rootfs, /proc/self/fd/N
 * of an O_PATH fd resolved inside the root, so a symlink in the image cannot carry it to the
 * host's tree), or an errno (ENOENT: the path does not exist).
 */
static int existing_path(const char *path, int *fd, char *buf, size_t size, const char **out) {
  *out = path;
  if (rootfs_fd < 0 || strncmp(path, rootfs_path, rootfs_len) != 0 || (path[rootfs_len] != '/' && path[rootfs_len])) return 0;
  const char *rel = path + rootfs_len + strspn(path + rootfs_len, "/");
  int err = open_target_in_root(*rel ? rel : ".", 0, 0, fd);
  if (err) return err;
  snprintf(buf, size, "/proc/self/fd/%d", *fd);
  *out = buf;
  return 0;
}

/* Invariant: a masked path reads as empty; a missing one needs no mask (as runc); any other failure is an error. */
static void do_mask(const struct record *r) {
  char buf[64];
  int fd = -1;
  const char *path;
  int err = existing_path(get_string(r, 0, 0), &fd, buf, sizeof buf, &path);
  if (err == ENOENT) return;
  if (err) die(STEP_MASK, err, r->index);
  struct stat st;
  if (stat(path, &st) < 0) die(STEP_MASK, errno, r->index);
  int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0")
                               : mount("/dev/null", path, NULL, MS_BIND, NULL);
  if (rc < 0) die(STEP_MASK, errno, r->index);
  if (fd >= 0) close(fd);
}

/* Invariant: the path (bound on itself) is read-only; a missing one is skipped (READONLY, as runc) or
   an error (REMOUNT_RO: `hutch sandbox --remount-ro`, bubblewrap's). */
static void do_readonly(const struct record *r) {
  char buf[64];
  int fd = -1;
  const char *path;
  int err = existing_path(get_string(r, 0, 0), &fd, buf, sizeof buf, &path);
  if (!err && mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) err = errno;
  if (err == ENOENT && r->tag == TAG_READONLY) return;
  if (err) die(STEP_READONLY, err, r->index);
  if (fd >= 0) close(fd);
  fd = -1; /* the fd named the directory under the new mount: look it up again to reach the mount */
  err = existing_path(get_string(r, 0, 0), &fd, buf, sizeof buf, &path);
  if (err || remount_ro(path) < 0) die(STEP_READONLY, err ? err : errno, r->index);
  if (fd >= 0) close(fd);
}

/* Invariant: the old root is gone; "/" is the rootfs and the cwd is "/". */
static void do_pivot(const char *rootfs, uint32_t index) {
  if (chdir(rootfs) < 0) die(STEP_PIVOT_ROOT, errno, index);
  /* pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the new. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) die(STEP_PIVOT_ROOT, errno, index);
  if (umount2(".", MNT_DETACH) < 0) die(STEP_PIVOT_ROOT, errno, index);
  if (chdir("/") < 0) die(STEP_PIVOT_ROOT, errno, index);
}

static void do_loopback(uint32_t index) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(STEP_LOOPBACK, errno, index);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) die(STEP_LOOPBACK, errno, index);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) die(STEP_LOOPBACK, errno, index);
  close(fd);
}

/*
 * Invariant: a tap device of this name exists in the new network namespace, persistent and not
 * attached. slirp4netns attaches to it; when slirp4netns exits, closing a non-persistent tap
 * would unregister it there and then (~20 ms of RCU waits in its exit, which hutch waits for),
 * while a persistent one goes with the namespace, in the kernel's own time.
 */
static void do_tap(const struct record *r) {
  const char *name = get_string(r, 0, 0);
  if (strlen(name) >= IFNAMSIZ) die(STEP_TAP, ENAMETOOLONG, r->index);
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die(STEP_TAP, errno, r->index);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) die(STEP_TAP, errno, r->index);
  close(fd);
}

/* Invariant: the pty master waits at PTY_MASTER_FD; returns the slave, owned by the user. */
static int open_terminal(uint32_t index) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) die(STEP_TERMINAL, errno, index);
  /* Move the master first: a slave opened before could land on PTY_MASTER_FD and be closed by dup2. */
  if (master != PTY_MASTER_FD) {
    if (dup2(master, PTY_MASTER_FD) < 0) die(STEP_TERMINAL, errno, index);
    close(master);
  }
  int unlock = 0, n;
  if (ioctl(PTY_MASTER_FD, TIOCSPTLCK, &unlock) < 0 || ioctl(PTY_MASTER_FD, TIOCGPTN, &n) < 0) die(STEP_TERMINAL, errno, index);
  int slave = ioctl(PTY_MASTER_FD, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) die(STEP_TERMINAL, errno, index);
  struct record u;
  if (find(TAG_USER, &u) && fchown(slave, get_u32(u.data), (gid_t)-1) < 0) die(STEP_TERMINAL, errno, index);
  return slave;
}

/*
 * Invariant: /dev/console is the pty's slave, bound over it (the runtime-spec's process.terminal,
 * as runc does), for a container with a root of its own; made as an empty file when missing, and
 * never through a symlink of the image.
 */
static void mount_console(uint32_t index) {
  int n;
  if (ioctl(PTY_MASTER_FD, TIOCGPTN, &n) < 0) die(STEP_TERMINAL, errno, index);
  char pts[32];
  snprintf(pts, sizeof pts, "/dev/pts/%d", n);
  struct stat st;
  if (lstat("/dev/console", &st) < 0) {
    int fd = errno == ENOENT ? open("/dev/console", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0) : -1;
    if (fd < 0) die(STEP_TERMINAL, errno, index);
    close(fd);
  } else if (S_ISLNK(st.st_mode)) die(STEP_TERMINAL, ELOOP, index);
  if (mount(pts, "/dev/console", NULL, MS_BIND, NULL) < 0) die(STEP_TERMINAL, errno, index);
}

/* Runs every record of one kind of filesystem step, in plan order. */
static void filesystem_steps(void) {
  struct record r = {0};
  while (next_record(&r)) {
    if (r.tag == TAG_MOUNT) do_mount(&r);
    else if (r.tag == TAG_SYMLINK) do_symlink_in_root(&r, 0);
    else if (r.tag == TAG_MASK) do_mask(&r);
    else if (r.tag == TAG_READONLY || r.tag == TAG_REMOUNT_RO) do_readonly(&r);
    else if (r.tag == TAG_SYSCTL) do_sysctl(&r);
    else if (r.tag == TAG_DIR) do_dir(&r);
    else if (r.tag == TAG_SYMLINK_IN_ROOT) do_symlink_in_root(&r, 1);
    else if (r.tag == TAG_FILE) do_file(&r);
    else if (r.tag == TAG_CHMOD) do_chmod(&r);
  }
}

/* Invariant: the mount namespace holds the container's tree and "/" is its root. Returns the pty's
   slave when the plan has a root and a terminal (else -1). */
static int setup_filesystem(void) {
  struct record r;
  if (find(TAG_PROPAGATION, &r) && mount(NULL, "/", NULL, get_u32(r.data), NULL) < 0) die(STEP_PROPAGATION, errno, r.index);
  if (!find(TAG_ROOTFS, &r)) {
    filesystem_steps();
    return -1;
  }
  const char *rootfs = get_string(&r, 0, 0);
  uint32_t index = r.index;
  if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) die(STEP_ROOTFS, errno, index);
  rootfs_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfs_fd < 0) die(STEP_ROOTFS, errno, index);
  rootfs_path = rootfs;
  rootfs_len = strlen(rootfs);
  while (rootfs_len > 1 && rootfs[rootfs_len - 1] == '/') rootfs_len--;
  filesystem_steps();
  close(rootfs_fd);
  rootfs_fd = -1;
  do_pivot(rootfs, index);
  root_propagation();
  /* The pty in the container's devpts, and /dev/console, before / may turn read-only. */
  int slave = -1;
  if (find(TAG_TERMINAL, &r)) {
    slave = open_terminal(r.index);
    mount_console(r.index);
  }
  if (find(TAG_READONLY_ROOT, &r) && remount_ro("/") < 0) die(STEP_READONLY_ROOT, errno, r.index);
  return slave;
}

/* Invariant: hostname, rlimits and umask are the container's. */
static void setup_process(void) {
  struct record r = {0};
  while (next_record(&r)) {
    if (r.tag == TAG_HOSTNAME) {
      const char *name = get_string(&r, 0, 0);
      if (sethostname(name, strlen(name)) < 0) die(STEP_HOSTNAME, errno, r.index);
    } else if (r.tag == TAG_LOOPBACK) do_loopback(r.index);
    else if (r.tag == TAG_RLIMIT) {
      struct rlimit lim = {get_u64(r.data + 4), get_u64(r.data + 12)};
      if (setrlimit((int)get_u32(r.data), &lim) < 0) die(STEP_RLIMIT, errno, r.index);
    } else if (r.tag == TAG_UMASK) umask((mode_t)get_u32(r.data));
  }
}

/* ---- The helper's own confinement: nothing of it is writable, readable or inherited from inside a container. ---- */

#define HELPER_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/*
 * Invariant: the helper runs from a sealed memfd copy of its binary (the runc CVE-2019-5736 fix):
 * /proc/PID/exe of every helper process names that copy, which nobody can write, never the host
 * file a container's root (the user) could otherwise reopen for writing. The copy costs one
 * sendfile and one more execve; the plan and sync fds are not close-on-exec yet and pass through.
 */
static void run_sealed(char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) die(STEP_SEAL, errno, 0);
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & HELPER_SEALS) == HELPER_SEALS) {
    close(self);
    return;
  }
  int copy = memfd_create("hutch-nsexec", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (copy < 0 && errno == EINVAL) copy = memfd_create("hutch-nsexec", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* before 6.3 */
  struct stat st;
  if (copy < 0 || fstat(self, &st) < 0) die(STEP_SEAL, errno, 0);
  for (off_t done = 0; done < st.st_size;) {
    ssize_t n = sendfile(copy, self, NULL, (size_t)(st.st_size - done));
    if (n <= 0) die(STEP_SEAL, n < 0 ? errno : EIO, 0);
    done += n;
  }
  close(self);
  if (fcntl(copy, F_ADD_SEALS, HELPER_SEALS) < 0) die(STEP_SEAL, errno, 0);
  syscall(SYS_execveat, copy, "", argv, environ, AT_EMPTY_PATH);
  die(STEP_SEAL, errno, 0);
}

/* Invariant: only the wire (0-5) and the fds to pass on (PRESERVE_FDS) are open; nothing the caller leaked. */
static void close_unexpected_fds(void) {
  struct record r;
  unsigned int first = ~0u, count = 0;
  if (find(TAG_PRESERVE_FDS, &r)) count = get_u32(r.data), first = get_u32(r.data + 4);
  int rc = count == 0 ? (int)syscall(SYS_close_range, FAIL_FD + 1, ~0u, 0)
                      : (first > FAIL_FD + 1 ? (int)syscall(SYS_close_range, FAIL_FD + 1, first - 1, 0) : 0) |
                            (int)syscall(SYS_close_range, first + count, ~0u, 0);
  if (rc < 0) die(STEP_CLOSE_FDS, errno, 0);
}

/*
 * Whether hutch must reach the child through /proc between clone and start (id maps, slirp4netns'
 * netns, pidfd_getfd of the pty master): then the child stays dumpable until "go". A child that
 * joins a running container's pid namespace (exec) is in that container's view, so it is dumpable
 * only when hutch takes its pty master; joining only user and mount namespaces (the union
 * filesystem daemon's) keeps it dumpable for slirp4netns.
 */
static int child_needs_proc(void) {
  struct record r = {0};
  if (find(TAG_TERMINAL, &r) && !find(TAG_CONSOLE_SOCKET, &r)) return 1;
  memset(&r, 0, sizeof r);
  while (next_record(&r)) /* joining a running container's pid namespace: exec */
    if (r.tag == TAG_SETNS && get_u32(r.data) == CLONE_NEWPID) return 0;
  return 1;
}

static void chown_notify_send(int listener);

/* Invariant: the plan's seccomp filter is installed, with seccomp(2)'s flags from SECCOMP_FLAGS. */
static void install_seccomp(void) {
  struct record r, f;
  if (!find(TAG_SECCOMP, &r)) return;
  uint32_t flags = find(TAG_SECCOMP_FLAGS, &f) ? get_u32(f.data) : 0;
  static struct sock_filter filter[BPF_MAXINSNS]; /* aligned copy: the payload may sit at any offset */
  if (r.len / sizeof *filter > BPF_MAXINSNS) die(STEP_SECCOMP, E2BIG, r.index);
  memcpy(filter, r.data, r.len);
  struct sock_fprog prog = {(unsigned short)(r.len / sizeof *filter), filter};
  long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (listener < 0) die(STEP_SECCOMP, errno, r.index);
  if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) chown_notify_send((int)listener);
}

/* Invariant: the process runs as the plan's user with exactly the plan's capabilities. */
static void drop_privileges(void) {
  struct record caps, user, groups, r;
  int has_caps = find(TAG_CAPS, &caps) != NULL;
  /* Without no_new_privs the filter needs CAP_SYS_ADMIN (in our user namespace): install it while
     we still have it; the steps left (setgroups, setres*id, capset, exec) must pass it, as in runc. */
  int nnp = find(TAG_NO_NEW_PRIVS, &r) != NULL;
  if (!nnp) install_seccomp();
  if (prctl(PR_SET_KEEPCAPS, 1) < 0) die(STEP_CAPS, errno, 0);
  if (has_caps) {
    uint64_t bounding = get_u64(caps.data);
    for (int cap = 0; cap < 64; cap++)
      if (!(bounding & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap) < 0 && errno != EINVAL) die(STEP_CAPS, errno, caps.index);
  }
  if (find(TAG_GROUPS, &groups)) {
    /* The payload sits at any offset in the plan: copy it into aligned storage, never cast. */
    static gid_t gids[NGROUPS_LIMIT];
    uint32_t count = get_u32(groups.data);
    if (count > NGROUPS_LIMIT) die(STEP_SETGROUPS, E2BIG, groups.index);
    memcpy(gids, groups.data + 4, (size_t)count * sizeof *gids);
    if (setgroups(count, gids) < 0) die(STEP_SETGROUPS, errno, groups.index);
  }
  if (find(TAG_USER, &user)) {
    uid_t uid = get_u32(user.data), gid = get_u32(user.data + 4);
    if (setresgid(gid, gid, gid) < 0) die(STEP_SETGID, errno, user.index);
    if (setresuid(uid, uid, uid) < 0) die(STEP_SETUID, errno, user.index);
  }
  /* A uid change clears the parent-death signal (prctl(2)); set it again. */
  if (!find(TAG_DETACH, &r) && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die(STEP_PDEATHSIG, errno, 0);
  if (has_caps) {
    struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
      data[i].effective = (uint32_t)(get_u64(caps.data + 8) >> (32 * i));
      data[i].permitted = (uint32_t)(get_u64(caps.data + 16) >> (32 * i));
      data[i].inheritable = (uint32_t)(get_u64(caps.data + 24) >> (32 * i));
    }
    if (syscall(SYS_capset, &head, data) < 0) die(STEP_CAPS, errno, caps.index);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) die(STEP_CAPS, errno, caps.index);
    uint64_t ambient = get_u64(caps.data + 32);
    for (int cap = 0; cap < 64; cap++)
      if ((ambient & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) die(STEP_CAPS, errno, caps.index);
  }
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die(STEP_NO_NEW_PRIVS, errno, 0);
  if (nnp) install_seccomp();
}

/*
 * Invariant: the plan's preserved fds are 3, 4, ... (dup2 leaves them open across exec) and the
 * failure pipe sits above them. Returns how many there are.
 */
static uint32_t preserve_fds(void) {
  struct record r;
  if (!find(TAG_PRESERVE_FDS, &r)) return 0;
  uint32_t count = get_u32(r.data), first = get_u32(r.data + 4);
  int high = fcntl(fail_fd, F_DUPFD_CLOEXEC, (int)(first + count));
  if (high < 0) die(STEP_PRESERVE_FDS, errno, r.index);
  close(fail_fd);
  fail_fd = high;
  for (uint32_t i = 0; i < count; i++)
    if (dup2((int)(first + i), (int)(3 + i)) < 0) die(STEP_PRESERVE_FDS, errno, r.index);
  return count;
}

/* Invariant: a new session, the pty (if any) as stdio and controlling tty, default signals. */
static void __attribute__((noreturn)) exec_process(int slave) {
  if (setsid() < 0) die(STEP_SETSID, errno, 0);
  if (slave >= 0) {
    for (int fd = 0; fd <= 2; fd++)
      if (dup2(slave, fd) < 0) die(STEP_TERMINAL, errno, 0);
    if (ioctl(0, TIOCSCTTY, 0) < 0) die(STEP_TERMINAL, errno, 0);
    close(slave);
  }
  close(PTY_MASTER_FD);
  uint32_t kept = preserve_fds();
  /* Whatever hutch's caller leaked to us must not reach the container; fd 5 closes at exec. */
  syscall(SYS_close_range, 3 + kept, ~0u, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL); /* SIG_IGN would survive exec */
  environ = env_list;
  const char *file = argv_list[0];
  struct record r;
  if (find(TAG_ARGV_ZERO, &r)) argv_list[0] = (char *)get_string(&r, 0, 0); /* hutch sandbox --argv0 */
  execvp(file, argv_list);
  die(STEP_EXEC, errno, 0);
}

/* Moves fd above PTY_MASTER_FD, which open_terminal will take over with dup2. */
static int above_pty(int fd, uint32_t step) {
  int high = fcntl(fd, F_DUPFD_CLOEXEC, PTY_MASTER_FD + 1);
  if (high < 0) die(step, errno, 0);
  close(fd);
  return high;
}

#include "chown-notify.c"

/* Invariant: a host path the child needs after pivot_root is held open (O_PATH) by fd. */
static int hold_path(uint16_t tag, uint32_t step) {
  struct record r;
  if (!find(tag, &r)) return -1;
  int fd = open(get_string(&r, 0, 0), O_PATH | O_CLOEXEC);
  if (fd < 0) die(step, errno, r.index);
  return above_pty(fd, step);
}

/* Invariant: connected to the console socket while its host path is in view (before setns and pivot_root). */
static int connect_console(void) {
  struct record r;
  if (!find(TAG_CONSOLE_SOCKET, &r)) return -1;
  const char *path = get_string(&r, 0, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) die(STEP_CONSOLE_SOCKET, ENAMETOOLONG, r.index);
  strcpy(addr.sun_path, path);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) die(STEP_CONSOLE_SOCKET, errno, r.index);
  return above_pty(sock, STEP_CONSOLE_SOCKET);
}

/* Invariant: the caller of `hutch runtime create` holds the pty master (the runc protocol: SCM_RIGHTS, the name as payload). */
static void send_console(int sock) {
  char name[] = "/dev/ptmx";
  struct iovec iov = {name, sizeof name};
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int master = PTY_MASTER_FD;
  memcpy(CMSG_DATA(c), &master, sizeof master);
  if (sendmsg(sock, &msg, 0) < 0) die(STEP_CONSOLE_SOCKET, errno, 0);
  close(sock);
}

/* Invariant: `hutch runtime start` has opened the fifo for reading (runc's exec fifo). */
static void wait_start(int fifo_path_fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fifo_path_fd);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(STEP_START_FIFO, errno, 0);
  if (write(fd, "0", 1) != 1) die(STEP_START_FIFO, errno, 0);
  close(fd);
  close(fifo_path_fd);
}

/*
 * ON_ITS_OWN: the pipe on which the helper's parent lets its child go on, once its tools have
 * written both maps and CLONED is sent. Never the sync socket: a byte put there early could be
 * read before the maps are written, and the child must not become root before.
 */
static int own_go[2] = {-1, -1};

/* Invariant (ON_ITS_OWN): both maps are written and CLONED is on the sync socket; else the child ends. */
static void own_wait(void) {
  uint8_t got;
  ssize_t n;
  close(own_go[1]);
  do n = read(own_go[0], &got, 1); while (n < 0 && errno == EINTR);
  if (n != 1) die(STEP_SYNC, n == 0 ? EPIPE : errno, 0); /* the parent died (its pdeathsig ends us too) */
  close(own_go[0]);
}

/* The child: in the new namespaces, carries out the plan and execs (or stays as init). */
static void __attribute__((noreturn)) run_child(void) {
  struct record r;
  if (!find(TAG_DETACH, &r) && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die(STEP_PDEATHSIG, errno, 0);
  int own = own_go[0] >= 0;
  /* Waiting also orders the messages: CLONED from the parent comes before our READY. */
  if (own) own_wait();
  else sync_read(SYNC_MAPPED);
  int fifo = hold_path(TAG_START_FIFO, STEP_START_FIFO);
  become_root(); /* after the host paths are held: root here may not reach them */
  int console = console_fd;
  if (find(TAG_TAP, &r)) do_tap(&r); /* before the mounts: /dev/net/tun is the host's */
  int slave = setup_filesystem(); /* the pty's slave when the plan has a root and a terminal */
  setup_process();
  if (slave < 0 && find(TAG_TERMINAL, &r)) slave = open_terminal(r.index);
  if (console >= 0) send_console(console);
  if (find(TAG_CWD, &r) && chdir(get_string(&r, 0, 0)) < 0) die(STEP_CWD, errno, r.index);
  default_home();
  check_executable();
  uint8_t ready = SYNC_READY;
  sync_write(&ready, 1);
  if (fifo >= 0) {
    close(SYNC_FD);
    wait_start(fifo);
  } else if (own) {
    close(SYNC_FD); /* no GO: hutch hears READY, then fd 5's EOF at exec */
  } else {
    sync_read(SYNC_GO);
    close(SYNC_FD);
  }
  if (prctl(PR_SET_DUMPABLE, 0) < 0) die(STEP_SEAL, errno, 0); /* until exec: the container runs from here on */
  if (find(TAG_CLONE_FLAGS, &r) && (get_u32(r.data) & CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0) die(STEP_CGROUPNS, errno, r.index);
  drop_privileges();
  if (!find(TAG_INIT, &r)) exec_process(slave);
  pid_t pid = fork();
  if (pid < 0) die(STEP_INIT, errno, r.index);
  if (pid == 0) exec_process(slave);
  /* The tiny init: PID 1 reaps every orphan and passes signals on to the command. It holds no fd
     but stdio, and is dumpable again (as an exec'd process would be): hutch exec joins its namespaces. */
  syscall(SYS_close_range, 3, ~0u, 0);
  prctl(PR_SET_DUMPABLE, 1);
  install_forwarding(pid);
  _exit(wait_for(pid));
}

/*
 * Invariant: the helper is in every namespace the plan joins (hutch exec). All paths are opened
 * first, since they name the host's /proc; the user namespace is joined first, which gives the
 * capabilities the other joins need (setns(2)). A joined pid namespace holds the next child.
 */
static void join_namespaces(void) {
  int fds[16];
  uint32_t types[16], index[16];
  size_t n = 0;
  struct record r = {0};
  while (next_record(&r)) {
    if (r.tag != TAG_SETNS) continue;
    if (n == 16) die(STEP_SETNS, E2BIG, r.index);
    types[n] = get_u32(r.data);
    index[n] = r.index;
    fds[n] = open(get_string(&r, 4, 0), O_RDONLY | O_CLOEXEC);
    if (fds[n] < 0) die(STEP_SETNS, errno, r.index);
    n++;
  }
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < n; i++) {
      if ((types[i] == CLONE_NEWUSER) != (pass == 0)) continue;
      if (setns(fds[i], (int)types[i]) < 0) die(STEP_SETNS, errno, index[i]);
      close(fds[i]);
    }
}

/* Starts ID_MAP record `r`'s tool on `child` (stdin and stdout /dev/null, stderr into *err); its pid or -errno. */
static pid_t start_map_tool(const struct record *r, pid_t child, int *err) {
  static char pid_text[16];
  uint32_t kind = get_u32(r->data);
  const char *tool = get_string(r, 4, 0);
  snprintf(pid_text, sizeof pid_text, "%d", (int)child);
  strcpy(map_words[kind], get_string(r, 4, 1)); /* its length was checked with the plan */
  size_t n = 0;
  map_argv[kind][n++] = (char *)tool;
  map_argv[kind][n++] = pid_text;
  for (char *c = map_words[kind]; *c;) {
    map_argv[kind][n++] = c;
    while (*c && *c != ' ') c++;
    if (*c) *c++ = '\0';
  }
  map_argv[kind][n] = NULL;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(p[1], 2) < 0) _exit(126);
    syscall(SYS_close_range, 3, ~0u, 0);
    char *no_env[] = {NULL};
    execve(tool, map_argv[kind], no_env);
    dprintf(2, "cannot execute %s: %s\n", tool, strerror(errno));
    _exit(127);
  }
  close(p[1]);
  *err = p[0];
  return pid;
}

/*
 * Whether `child`'s uid (kind 0) or gid map has anything in it. A tool that exits 0 having written
 * nothing (a broken stand-in on PATH) would otherwise let the child go on unmapped, to fail at its
 * setuid with EINVAL, naming neither the tool nor the map. Unreadable: yes (the child is gone, or
 * /proc is not ours; the child's own steps say so then).
 */
static int map_written(pid_t child, int kind) {
  char path[48], c;
  snprintf(path, sizeof path, "/proc/%d/%s_map", (int)child, kind == 0 ? "uid" : "gid");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  ssize_t n;
  do n = read(fd, &c, 1); while (n < 0 && errno == EINTR);
  close(fd);
  return n != 0;
}

/*
 * Invariant: the child's uid and gid maps are written by the plan's tools, or the child is gone
 * and fd 5 says which tool failed and what it wrote. The setuid newuidmap and newgidmap run here,
 * both at once, instead of in hutch: each was a fork of hutch's ~60-90 MB Node process (~8 ms
 * apiece on the run's path), a fork of the helper is small. Maps hutch writes itself (a map of
 * its own id alone, or root of its user namespace) come after CLONED, as before.
 */
static void map_ids(pid_t child) {
  static char text[2][4096];
  pid_t pids[2] = {0, 0};
  int errs[2] = {-1, -1}, status[2] = {0, 0};
  size_t len[2] = {0, 0};
  uint32_t index[2] = {0, 0};
  struct record r = {0};
  while (next_record(&r)) {
    if (r.tag != TAG_ID_MAP) continue;
    uint32_t kind = get_u32(r.data);
    index[kind] = r.index;
    pids[kind] = start_map_tool(&r, child, &errs[kind]);
    if (pids[kind] < 0) {
      kill(child, SIGKILL);
      die(STEP_ID_MAP, -pids[kind], r.index);
    }
  }
  for (int k = 0; k < 2; k++) {
    if (pids[k] == 0) continue;
    for (;;) { /* to its end (a tool could write more than a pipe holds); the first 4 KiB kept */
      char buf[4096];
      ssize_t n = read(errs[k], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      size_t room = sizeof text[k] - len[k], take = (size_t)n < room ? (size_t)n : room;
      memcpy(text[k] + len[k], buf, take);
      len[k] += take;
    }
    close(errs[k]);
    while (waitpid(pids[k], &status[k], 0) < 0)
      if (errno != EINTR) die(STEP_ID_MAP, errno, index[k]);
  }
  for (int k = 0; k < 2; k++) { /* the uid side first, whichever failed first: the same cause, the same message */
    if (pids[k] == 0) continue;
    if (WIFEXITED(status[k]) && WEXITSTATUS(status[k]) == 0) {
      if (map_written(child, k)) continue;
      len[k] = (size_t)snprintf(text[k], sizeof text[k], "it exited 0 but wrote no map: /proc/%d/%s_map is empty",
                                (int)child, k == 0 ? "uid" : "gid");
    } else if (len[k] == 0) {
      len[k] = (size_t)snprintf(text[k], sizeof text[k], WIFEXITED(status[k]) ? "exited with status %d" : "killed by signal %d",
                                WIFEXITED(status[k]) ? WEXITSTATUS(status[k]) : WTERMSIG(status[k]));
    }
    kill(child, SIGKILL);
    die_text(STEP_ID_MAP, 0, index[k], text[k], len[k]);
  }
}

int main(int argc, char **argv) {
  (void)argc;
  run_sealed(argv);
  if (prctl(PR_SET_DUMPABLE, 0) < 0) die(STEP_SEAL, errno, 0);
  for (int fd = PLAN_FD; fd <= FAIL_FD; fd++) {
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) _exit(125); /* no fd 5 to report on */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  read_plan();
  check_plan();
  check_on_its_own();
  close_unexpected_fds();
  struct record r;
  if (find(TAG_PDEATHSIG, &r) && prctl(PR_SET_PDEATHSIG, get_u32(r.data)) < 0) die(STEP_PDEATHSIG, errno, r.index);
  console_fd = connect_console();
  join_namespaces();
  uint32_t flags = find(TAG_CLONE_FLAGS, &r) ? get_u32(r.data) : 0;
  /* The cgroup namespace comes after "go" (run_child): hooks move the child into its cgroup first,
     so that cgroup, not ours, is the root the container sees. */
  int open_child = child_needs_proc();
  if (open_child && prctl(PR_SET_DUMPABLE, 1) < 0) die(STEP_SEAL, errno, 0); /* the child inherits it */
  chown_notify_prepare();
  struct record own;
  if (find(TAG_ON_ITS_OWN, &own) && pipe2(own_go, O_CLOEXEC) < 0) die(STEP_SYNC, errno, own.index);
  pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)(flags & ~(uint32_t)CLONE_NEWCGROUP) | SIGCHLD, NULL, NULL, NULL, 0);
  if (child < 0) die(STEP_CLONE, errno, r.index);
  if (child == 0) run_child(); /* never returns */
  if (own_go[0] >= 0) close(own_go[0]);
  if (open_child && prctl(PR_SET_DUMPABLE, 0) < 0) die(STEP_SEAL, errno, 0);
  if (console_fd >= 0) close(console_fd);
  if (find(TAG_PRESERVE_FDS, &r)) /* the child has them; the helper need not hold them open */
    for (uint32_t i = 0; i < get_u32(r.data); i++) close((int)(get_u32(r.data + 4) + i));
  map_ids(child); /* CLONED then means cloned and mapped by the tools: hutch writes the rest */
  unsigned char msg[5] = {SYNC_CLONED};
  memcpy(msg + 1, &child, 4);
  sync_write(msg, sizeof msg);
  close(SYNC_FD);
  if (own_go[1] >= 0) { /* ON_ITS_OWN: the maps are written and CLONED sent; the child goes on */
    uint8_t go = SYNC_MAPPED;
    if (write(own_go[1], &go, 1) != 1) die(STEP_SYNC, errno, 0);
    close(own_go[1]);
  }
  close(FAIL_FD); /* from here on only the child reports; EOF on fd 5 means it exec'd */
  if (find(TAG_DETACH, &r)) return 0; /* the caller's subreaper (conmon) adopts the child */
  install_forwarding(child);
  return notify_sock[0] >= 0 ? supervise(child) : wait_for(child);
}
