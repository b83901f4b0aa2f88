/*
 * Steps of the runtime-spec face (runc's behaviour for config.json bundles): root of the new
 * user namespace, the root's propagation after pivot_root, tmpcopyup, sysctls, the default HOME
 * and the executable checked at create. Kept apart from nsexec.c's core steps; nsexec.c includes this file after its
 * helpers (die, find, next_record, get_string, open_in_root), which stay static there.
 * No allocation: the child walks the plan in place and copies with stack buffers.
 */
#include <dirent.h>

/*
 * Invariant: in a user namespace of its own, the child is its root when root is mapped there, as
 * runc makes it: its own id may map to nothing (podman --uidmap 0:1:N), and then nothing it
 * creates (the /dev tmpfs's files) could be owned by it. The creator's full capabilities allow it.
 */
static void become_root(void) {
  struct record r;
  if (!find(TAG_CLONE_FLAGS, &r) || !(get_u32(r.data) & CLONE_NEWUSER)) return;
  if (setresgid(0, 0, 0) < 0 && errno != EINVAL) die(STEP_SETGID, errno, r.index);
  if (setresuid(0, 0, 0) < 0 && errno != EINVAL) die(STEP_SETUID, errno, r.index);
  /* A credential change clears the parent-death signal and the dumpable flag (prctl(2)): set them
     again, else hutch (slirp4netns, pidfd_getfd) may no longer open /proc/PID of the child. */
  if (!find(TAG_DETACH, &r) && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die(STEP_PDEATHSIG, errno, 0);
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) die(STEP_SETUID, errno, 0);
}

/* Invariant: the root has the propagation rootfsPropagation asks for; set after pivot_root, which a shared root refuses. */
static void root_propagation(void) {
  struct record r;
  if (find(TAG_ROOT_PROPAGATION, &r) && mount(NULL, "/", NULL, get_u32(r.data), NULL) < 0) die(STEP_ROOT_PROPAGATION, errno, r.index);
}

/* Invariant: the namespaced sysctl has its value, written through the container's /proc/sys (resolved inside the root). */
static void do_sysctl(const struct record *r) {
  const char *rel = get_string(r, 0, 0), *value = get_string(r, 0, 1);
  int fd = rootfs_fd >= 0 ? open_in_root(rel, O_WRONLY | O_NOFOLLOW, 0) : openat(AT_FDCWD, rel, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) die(STEP_SYSCTL, errno, r->index);
  size_t len = strlen(value);
  if (write(fd, value, len) != (ssize_t)len) die(STEP_SYSCTL, errno, r->index);
  close(fd);
}

static int copy_tree(int src, int dst, int depth);

/* Copies one regular file's bytes; 0 or an errno. */
static int copy_bytes(int in, int out) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : 0;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf + done, (size_t)(n - done));
      if (w < 0) return errno;
      done += w;
    }
  }
}

/* Copies the entry `name` of src into dst with its mode and owner (ids unmapped here keep ours); 0 or an errno. */
static int copy_entry(int src, int dst, const char *name, int depth) {
  struct stat st;
  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno;
  int err = 0, in = -1, out = -1;
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(dst, name, 0700) < 0 && errno != EEXIST) return errno;
    in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    err = in < 0 || out < 0 ? errno : copy_tree(in, out, depth + 1);
  } else if (S_ISREG(st.st_mode)) {
    in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    err = in < 0 || out < 0 ? errno : copy_bytes(in, out);
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = readlinkat(src, name, target, sizeof target - 1);
    if (n < 0) return errno;
    target[n] = '\0';
    if (symlinkat(target, dst, name) < 0) return errno;
  } else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0 && errno != EPERM) {
    return errno; /* fifos and sockets copy; device nodes cannot be made in a user namespace */
  }
  if (!err && fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL) err = errno;
  if (!err && !S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) < 0 && errno != ENOENT) err = errno;
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  return err;
}

/* Copies every entry of the directory src into dst; 0 or an errno. */
static int copy_tree(int src, int dst, int depth) {
  if (depth > 64) return ELOOP;
  char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, src, buf, sizeof buf);
    if (n < 0) return errno;
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
      int err = copy_entry(src, dst, d->d_name, depth);
      if (err) return err;
    }
  }
}

/*
 * Invariant (tmpcopyup): the new tmpfs at `path` holds what the directory under it held, owner
 * and mode kept. `under` was opened on the directory before the mount covered it.
 */
static void copy_up(int under, const char *path, uint32_t index) {
  int top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (top < 0 || fstat(under, &st) < 0) die(STEP_COPYUP, errno, index);
  if (fchown(top, st.st_uid, st.st_gid) < 0 && errno != EINVAL) die(STEP_COPYUP, errno, index);
  if (fchmod(top, st.st_mode & 07777) < 0) die(STEP_COPYUP, errno, index); /* runc keeps the directory's mode */
  int err = copy_tree(under, top, 0);
  if (err) die(STEP_COPYUP, err, index);
  close(top);
  close(under);
}

/* "HOME=" and the home of the process's user: runc's default when the environment has none. */
static char home_env[4096 + 6];
static char passwd[65536]; /* the container's /etc/passwd, as much as fits */

/* The home directory of `uid` in the passwd text, or NULL; `text` is cut into fields in place. */
static const char *home_of(char *text, uint32_t uid) {
  for (char *line = text; line != NULL && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    char *field[7] = {line}; /* name:password:uid:gid:gecos:dir:shell */
    int n = 1;
    for (char *p = line; *p && n < 7; p++)
      if (*p == ':') *p = '\0', field[n++] = p + 1;
    if (n >= 6 && *field[2] && strspn(field[2], "0123456789") == strlen(field[2]) && strtoul(field[2], NULL, 10) == uid)
      return field[5][0] == '/' ? field[5] : NULL;
    line = next;
  }
  return NULL;
}

/* Invariant: the environment has HOME: the user's home in the container's /etc/passwd, else "/". */
static void default_home(void) {
  struct record r, user;
  if (!find(TAG_HOME, &r)) return;
  if (envc_plan == MAX_STRINGS) die(STEP_HOME, E2BIG, r.index);
  uint32_t uid = find(TAG_USER, &user) ? get_u32(user.data) : (uint32_t)getuid();
  ssize_t n = 0;
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) n = read(fd, passwd, sizeof passwd - 1);
  if (fd >= 0) close(fd);
  passwd[n > 0 ? n : 0] = '\0';
  const char *home = home_of(passwd, uid);
  snprintf(home_env, sizeof home_env, "HOME=%s", home ? home : "/");
  env_list[envc_plan++] = home_env;
}

/* Invariant (runc's create): argv[0] exists in the container, found as execvp will look for it. */
static void check_executable(void) {
  const char *name = argv_list[0], *path = "/bin:/usr/bin";
  struct stat st;
  if (strchr(name, '/') != NULL) {
    if (stat(name, &st) < 0) die(STEP_EXEC, errno, 0);
    return;
  }
  for (size_t i = 0; i < envc_plan; i++)
    if (strncmp(env_list[i], "PATH=", 5) == 0) path = env_list[i] + 5;
  char buf[4096];
  for (const char *dir = path; dir != NULL;) {
    const char *end = strchr(dir, ':');
    int len = end ? (int)(end - dir) : (int)strlen(dir);
    snprintf(buf, sizeof buf, "%.*s%s%s", len, dir, len ? "/" : "", name);
    if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode)) return;
    dir = end ? end + 1 : NULL;
  }
  die(STEP_EXEC, ENOENT, 0);
}
