/*
 * Steps that make a directory or a symlink at a path of the new root (`hutch sandbox`'s --dir and
 * --symlink, bubblewrap's). Every component resolves inside the root (open_target_in_root:
 * openat2 RESOLVE_IN_ROOT), so `..` and a symlink made earlier (`--symlink /.. /up`, or one
 * naming a host path) stop at the root's "/"; nothing is created on the host. nsexec.c includes
 * this file after open_target_in_root.
 */

/* The part of `path` under the rootfs (no leading '/'), or NULL when the plan has no root or the path is not under it. */
static const char *root_relative(const char *path) {
  if (rootfs_fd < 0 || strncmp(path, rootfs_path, rootfs_len) != 0 || (path[rootfs_len] != '/' && path[rootfs_len])) return NULL;
  return path + rootfs_len + strspn(path + rootfs_len, "/");
}

/* Opens (O_PATH) the directory `rel` inside the root, made with its missing parents (0755 whatever
   the umask, as bwrap's); 0, or an errno (ENOTDIR when something else is there). */
static int dir_in_root(const char *rel, int *fd) {
  mode_t old = umask(022);
  int err = open_target_in_root(*rel ? rel : ".", 1, 0, fd);
  umask(old);
  struct stat st;
  if (!err && fstat(*fd, &st) < 0) err = errno;
  else if (!err && !S_ISDIR(st.st_mode)) err = ENOTDIR;
  if (err && *fd >= 0) close(*fd), *fd = -1;
  return err;
}

/* Invariant (DIR): a directory is at the path, inside the root; an existing one (or a link to one in the root) is fine. */
static void do_dir(const struct record *r) {
  const char *path = get_string(r, 0, 0), *rel = root_relative(path);
  int fd = -1, err = rel != NULL ? dir_in_root(rel, &fd) : mkdir_parents(path, 1);
  if (err) die(STEP_DIR, err, r->index);
  if (fd >= 0) close(fd);
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
  size_t len = strlen(rel);
  while (len > 0 && rel[len - 1] == '/') len--;
  if (len == 0 || len >= sizeof parent) die(STEP_SYMLINK, len ? ENAMETOOLONG : EEXIST, r->index);
  memcpy(parent, rel, len);
  parent[len] = '\0';
  char *slash = strrchr(parent, '/');
  const char *name = slash ? slash + 1 : parent;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) die(STEP_SYMLINK, EEXIST, r->index);
  if (slash) *slash = '\0';
  int dir = -1, err = dir_in_root(slash ? parent : "", &dir);
  if (!err && symlinkat(target, dir, name) < 0) err = errno;
  if (err == EEXIST && (!strict || same_link(dir, name, target))) err = 0;
  if (dir >= 0) close(dir);
  if (err) die(STEP_SYMLINK, err, r->index);
}
