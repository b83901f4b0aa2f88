/*
 * The FILE step (`hutch sandbox`'s --file, --bind-data and --ro-bind-data, bubblewrap's): bytes the
 * front read from the caller's fd, carried in the plan, written to a file inside the new root. DEST
 * resolves inside the root as DIR's path does (root-steps.c); nothing is made on the host. A bound
 * file is staged under a name of its own in the root's filesystem (the sandbox's tmpfs), bound on
 * DEST and unlinked at once: before the command runs, only the mount at DEST reaches it.
 */

#define FILE_OP_BIND 1u     /* bind a file holding the bytes on DEST (else DEST is a new file) */
#define FILE_OP_READONLY 2u /* with FILE_OP_BIND: the bind is read-only */

static int write_bytes(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    data += n, len -= (size_t)n;
  }
  return 0;
}

/* A new file `name` in `dir` (nothing may be there, not even a link) holding the bytes, with `mode`. */
static int new_file_at(int dir, const char *name, mode_t mode, const char *data, size_t len) {
  int fd = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) return errno;
  int err = write_bytes(fd, data, len);
  if (!err && fchmod(fd, mode) < 0) err = errno; /* the mode as given, whatever the umask */
  close(fd);
  return err;
}

/* DEST as a new file: its parents made as DIR makes them (parent_mode of the file's mode). */
static int data_file(const char *rel, mode_t mode, const char *data, size_t len) {
  char parent[4096];
  const char *name;
  int dir = -1, err = split_last(rel, parent, &name);
  if (!err) err = dir_in_root(parent, parent_mode(mode), &dir);
  if (!err) err = new_file_at(dir, name, mode, data, len);
  if (dir >= 0) close(dir);
  return err;
}

/* Binds `staged` (a file in the root) on DEST (made as an empty 0444 file when missing), read-only if asked. */
static int bind_staged(const char *staged, const char *rel, mode_t mode, uint32_t ops) {
  char source[64], target[64];
  int src = open_in_root(staged, O_PATH | O_NOFOLLOW, 0), fd = -1;
  if (src < 0) return errno;
  mode_t old = umask(0);
  int err = open_target_modes(rel, 2, 0, parent_mode(mode), 0444, &fd);
  umask(old);
  snprintf(source, sizeof source, "/proc/self/fd/%d", src);
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  if (!err && mount(source, target, NULL, MS_BIND, NULL) < 0) err = errno;
  close(src);
  if (fd >= 0) close(fd);
  if (err || !(ops & FILE_OP_READONLY)) return err;
  /* The fd named the file under the new mount: look DEST up again to reach the mount. */
  if ((err = open_target_in_root(rel, 0, 0, &fd)) != 0) return err;
  snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
  if (remount_ro(target) < 0) err = errno;
  close(fd);
  return err;
}

/* Invariant (FILE): DEST, inside the root, holds the record's bytes with its mode: a new file, or a
   file bound on it (read-only with FILE_OP_READONLY) that has no other name. Not under the root: EXDEV. */
static void do_file(const struct record *r) {
  mode_t mode = get_u32(r->data) & 07777;
  uint32_t ops = get_u32(r->data + 4);
  const char *path = get_string(r, 8, 0), *data = get_string(r, 8, 1), *rel = root_relative(path);
  size_t len = get_u32((const unsigned char *)data - 4) - 1; /* a wire string's length: NULs inside are data */
  if (rel == NULL || !*rel) die(STEP_FILE, rel == NULL ? EXDEV : EEXIST, r->index);
  if (!(ops & FILE_OP_BIND)) {
    int err = data_file(rel, mode, data, len);
    if (err) die(STEP_FILE, err, r->index);
    return;
  }
  char staged[32];
  snprintf(staged, sizeof staged, ".hutch-data-%u", (unsigned)r->index);
  int err = new_file_at(rootfs_fd, staged, mode, data, len);
  if (!err) {
    err = bind_staged(staged, rel, mode, ops);
    if (unlinkat(rootfs_fd, staged, 0) < 0 && !err) err = errno; /* no name left for the bytes */
  }
  if (err) die(STEP_FILE, err, r->index);
}
