/*
 * Steps that make a directory or a symlink at a path of the new root, or change a path's mode
 * (`hutch sandbox`'s --dir, --symlink and --chmod, bubblewrap's). Every component resolves inside
 * the root (open_target_in_root: openat2 RESOLVE_IN_ROOT), so `..` and a symlink made earlier (`--symlink /.. /up`, or one
 * naming a host path) stop at the root's "/"; nothing is created on the host. nsexec.c includes
 * this file after open_target_in_root.
 */

/* The part of `path` under the rootfs (no leading '/'), or NULL when the plan has no root or the path is not under it. */
static const char *root_relative(const char *path) {
  if (rootfs_fd < 0 || strncmp(path, rootfs_path, rootfs_len) != 0 || (path[rootfs_len] != '/' && path[rootfs_len])) return NULL;
  return path + rootfs_len + strspn(path + rootfs_len, "/");
}

/* bwrap's rule for the parents made for a path of mode `mode`: 0755, without group (other) r-x
   when `mode` gives the group (others) nothing, so a 0700 path does not sit under 0755 parents. */
static mode_t parent_mode(mode_t mode) {
  mode_t out = 0755;
  if (!(mode & 0070)) out &= ~(mode_t)0050;
  if (!(mode & 0007)) out &= ~(mode_t)0005;
  return out;
}

/* Opens (O_PATH) the directory `rel` inside the root, made with its missing parents: `mode` for it,
   parent_mode(mode) for them, whatever the umask; 0, or an errno (ENOTDIR when something else is there). */
static int dir_in_root(const char *rel, mode_t mode, int *fd) {
  mode_t old = umask(0);
  int err = open_target_modes(*rel ? rel : ".", 1, 0, parent_mode(mode), mode, fd);
  umask(old);
  struct stat st;
  if (!err && fstat(*fd, &st) < 0) err = errno;
  else if (!err && !S_ISDIR(st.st_mode)) err = ENOTDIR;
  if (err && *fd >= 0) close(*fd), *fd = -1;
  return err;
}

/* Invariant (DIR): a directory is at the path, inside the root (made with the record's mode); an
   existing one (or a link to one in the root) is fine and keeps its mode. A path not under the root
   is EXDEV: nothing is ever made on the host. */
static void do_dir(const struct record *r) {
  const char *path = get_string(r, 4, 0), *rel = root_relative(path);
  if (rel == NULL) die(STEP_DIR, EXDEV, r->index);
  int fd = -1, err = dir_in_root(rel, get_u32(r->data) & 07777, &fd);
  if (err) die(STEP_DIR, err, r->index);
  close(fd);
}

/* Splits `rel` (under the root) into its parent, copied to `parent`, and its last name; EEXIST for
   the root itself, `.` or `..` (nothing new can be made there). */
static int split_last(const char *rel, char parent[4096], const char **name) {
  size_t len = strlen(rel);
  while (len > 0 && rel[len - 1] == '/') len--;
  if (len == 0 || len >= 4095) return len ? ENAMETOOLONG : EEXIST;
  memcpy(parent + 1, rel, len); /* parent[0] stays free: the parent is "" when there is no slash */
  parent[len + 1] = '\0';
  char *slash = strrchr(parent + 1, '/');
  *name = slash ? slash + 1 : parent + 1;
  if (strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) return EEXIST;
  if (slash) *slash = '\0', memmove(parent, parent + 1, (size_t)(slash - parent)), *name = slash + 1;
  else parent[0] = '\0';
  return 0;
}

/* Whether the entry `name` of `dir` is a symlink whose text is `target`. */
static int same_link(int dir, const char *name, const char *target) {
  char text[4096];
  ssize_t n = readlinkat(dir, name, text, sizeof text);
  return n >= 0 && (size_t)n == strlen(target) && memcmp(text, target, (size_t)n) == 0;
}

/*
 * Invariant (SYMLINK_IN_ROOT, `strict`): the path, inside the root, is a symlink whose text is the
 * target (never followed: it is only the link's text); its parents are made as DIR makes them. An
 * identical link already there is fine (bwrap's rule); anything else there is EEXIST. Without
 * `strict` (SYMLINK under the root: hutch's own links, /dev/fd, /bin -> usr/bin) anything there is
 * fine, as before; the parent still resolves inside the root, so an image whose /dev is a symlink
 * to a host path cannot have the links made there.
 */
static void do_symlink_in_root(const struct record *r, int strict) {
  const char *target = get_string(r, 0, 0), *path = get_string(r, 0, 1), *rel = root_relative(path);
  if (rel == NULL && !strict) {
    if (symlink(target, path) < 0 && errno != EEXIST) die(STEP_SYMLINK, errno, r->index);
    return;
  }
  if (rel == NULL) die(STEP_SYMLINK, EXDEV, r->index); /* only a path under the root is resolved */
  char parent[4096];
  const char *name;
  int dir = -1, err = split_last(rel, parent, &name);
  if (!err) err = dir_in_root(parent, 0755, &dir);
  if (!err && symlinkat(target, dir, name) < 0) err = errno;
  if (err == EEXIST && (!strict || same_link(dir, name, target))) err = 0;
  if (dir >= 0) close(dir);
  if (err) die(STEP_SYMLINK, err, r->index);
}

/* Invariant (CHMOD): what the path names inside the root (symlinks followed there: `..` and a link to a
   host path stop at the root's "/") has the record's mode. It must exist (ENOENT); not under the root:
   EXDEV. The O_PATH fd is chmod'ed through its /proc/self/fd link (fchmod refuses O_PATH fds). */
static void do_chmod(const struct record *r) {
  const char *path = get_string(r, 4, 0), *rel = root_relative(path);
  if (rel == NULL) die(STEP_CHMOD, EXDEV, r->index);
  int fd = open_in_root(*rel ? rel : ".", O_PATH, 0);
  if (fd < 0) die(STEP_CHMOD, errno, r->index);
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  int err = chmod(proc, get_u32(r->data) & 07777) < 0 ? errno : 0;
  close(fd);
  if (err) die(STEP_CHMOD, err, r->index);
}

#include "root-data.c"
