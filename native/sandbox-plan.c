/*
 * hutch-sandbox's plan: the spec of src/sandbox/spec.ts carried through src/runtime/plan.ts
 * (planFromSpec, devices.ts devSteps) and encoded as src/runtime/nsexec.ts encodePlan does. Same
 * order, same bytes; test/integration/sandbox-front.test.ts compares the two for a table of argv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"
#include "wire.h"

static const char *const SYSTEM_DIRS[] = {"/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", NULL};
static const char *const MASKED[] = {"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", NULL};
static const char *const READONLY[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};

void mounts_add(struct mounts *ms, struct mount m) {
  if (ms->n == ms->cap) {
    ms->cap = ms->cap * 2 + 16;
    ms->m = realloc(ms->m, sizeof(struct mount) * (size_t)ms->cap);
    if (ms->m == NULL) fall_back("out of memory");
  }
  ms->m[ms->n++] = m;
}

/* DIR and CHMOD: u32 mode, string path. */
static void record_mode_path(struct buf *plan, unsigned tag, uint32_t mode, const char *path) {
  struct buf p = {0};
  buf_u32(&p, mode);
  buf_str(&p, path);
  plan_record(plan, tag, &p);
  free(p.p);
}

/* plan.ts mountStep: a bind's read-only flag becomes a remount; its mount point a dir or a file. */
static void mount_record(struct buf *plan, const struct mount *m, const char *target) {
  struct buf p = {0};
  if (m->bind) {
    int dir = is_directory(m->source);
    buf_u32(&p, m->flags & ~(uint32_t)MS_RDONLY_);
    buf_u32(&p, (dir ? OP_MKDIR : OP_MKFILE) | (m->readonly ? OP_REMOUNT_RO : 0));
    buf_str(&p, m->source), buf_str(&p, target), buf_str(&p, ""), buf_str(&p, "");
  } else {
    int proc = strcmp(m->type, "proc") == 0;
    buf_u32(&p, m->flags);
    buf_u32(&p, OP_MKDIR | (proc ? OP_NO_SYMLINKS : 0));
    buf_str(&p, m->source), buf_str(&p, target), buf_str(&p, m->type), buf_str(&p, m->data);
  }
  plan_record(plan, TAG_MOUNT, &p);
  free(p.p);
}

/* A --dir, --symlink, --file, --bind-data or --chmod among the mounts (spec.ts keeps them out of the spec: plan.ts rootPaths). */
static int is_path(const struct mount *m) {
  return strcmp(m->type, "dir") == 0 || strcmp(m->type, "symlink") == 0 || strcmp(m->type, "file") == 0 ||
         strstr(m->type, "bind-data") != NULL || strcmp(m->type, "chmod") == 0 || strcmp(m->type, "remount-ro") == 0;
}

static int has_destination(const struct mounts *ms, const char *path, int trim) {
  for (int i = 0; i < ms->n; i++) {
    if (is_path(&ms->m[i])) continue;
    size_t n = strlen(ms->m[i].destination);
    while (trim && n > 0 && ms->m[i].destination[n - 1] == '/') n--;
    if (n == strlen(path) && strncmp(ms->m[i].destination, path, n) == 0) return 1;
  }
  return 0;
}

/* devices.ts devSteps, for a spec without linux.devices. */
static void dev_steps(struct buf *plan, const struct mounts *ms, const char *rootfs) {
  for (const char *const *d = DEVICES; *d != NULL; d++) {
    if (has_destination(ms, *d, 0)) continue;
    struct mount m = {*d, "bind", *d, "", MS_BIND_, 1, 0};
    struct buf p = {0};
    buf_u32(&p, m.flags), buf_u32(&p, OP_MKFILE);
    buf_str(&p, *d), buf_str(&p, inside_root(rootfs, *d)), buf_str(&p, ""), buf_str(&p, "");
    plan_record(plan, TAG_MOUNT, &p);
    free(p.p);
  }
  if (!has_destination(ms, "/dev/pts", 1))
    mount_record(plan, &(struct mount){"/dev/pts", "devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620", MS_NOSUID_ | MS_NOEXEC_, 0, 0},
                 inside_root(rootfs, "/dev/pts"));
  if (!has_destination(ms, "/dev/shm", 1))
    mount_record(plan, &(struct mount){"/dev/shm", "tmpfs", "shm", "mode=1777,size=65536k", MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, 0, 0},
                 inside_root(rootfs, "/dev/shm"));
  for (int i = 0; DEV_LINKS[i][0] != NULL; i++) record_strs(plan, TAG_SYMLINK, DEV_LINKS[i][0], inside_root(rootfs, DEV_LINKS[i][1]));
}

/* The host's top-level directories: read-only binds, or symlinks made in the root (rootLinks). */
static void system_dirs(struct mounts *ms, struct mounts *links) {
  for (const char *const *d = SYSTEM_DIRS; *d != NULL; d++) {
    struct stat st;
    if (lstat(*d, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlink(*d, target, sizeof target - 1);
      if (n < 0) fall_back("cannot read a system directory's link");
      target[n] = '\0';
      mounts_add(links, (struct mount){*d, "link", strdup(target), "", 0, 0, 0});
    } else if (S_ISDIR(st.st_mode)) {
      mounts_add(ms, (struct mount){*d, "bind", *d, "", MS_BIND_ | MS_REC_ | MS_RDONLY_, 1, 1});
    }
  }
}

/* $HOME when it names a directory of its own (not / nor under a system directory): spec.ts homeDir. */
static const char *home_dir(const struct env *host) {
  const char *home = env_get(host, "HOME");
  if (home == NULL || home[0] != '/') return NULL;
  char *clean = path_resolve("/", home);
  if (strcmp(clean, "/") == 0) return NULL;
  for (const char *const *d = SYSTEM_DIRS; *d != NULL; d++) {
    size_t n = strlen(*d);
    if (strncmp(clean, *d, n) == 0 && (clean[n] == '\0' || clean[n] == '/')) return NULL;
  }
  return clean;
}

static int depth(const char *path) {
  int n = 0;
  for (const char *c = path; *c; c++)
    if (c[0] != '/' && (c == path || c[-1] == '/')) n++;
  return n;
}

/* spec.ts userBinds: sources from the working directory, tmpfs, --dir and --symlink too, parents before children (stable). */
static void user_binds(const struct bind *b, int n, const char *cwd, struct mounts *ms) {
  int first = ms->n;
  for (int i = 0; i < n; i++) {
    if (b[i].destination[0] != '/') fall_back("a relative destination");
    unsigned mode = b[i].mode >= 0 ? (unsigned)b[i].mode : b[i].kind == BIND_FILE ? 0666 : b[i].kind > BIND_FILE ? 0600 : 0755;
    if (b[i].kind >= BIND_FILE) { /* spec.ts dataEntry: the bytes read_data read */
      const char *type = b[i].kind == BIND_FILE ? "file" : b[i].kind == BIND_DATA ? "bind-data" : "ro-bind-data";
      mounts_add(ms, (struct mount){path_resolve("/", b[i].destination), type, b[i].bytes, NULL, mode, (int)b[i].nbytes, 0});
      continue;
    }
    if (b[i].kind == BIND_TMPFS) {
      char data[64];
      snprintf(data, sizeof data, "mode=%04o%s%s", mode, b[i].size ? ",size=" : "", b[i].size ? b[i].size : ""); /* spec.ts modeOption */
      char *destination = path_resolve("/", b[i].destination);
      if (b[i].mode >= 0) mounts_add(ms, (struct mount){destination, "dir", "", "", mode, 0, 0}); /* its parents as --dir's */
      mounts_add(ms, (struct mount){destination, "tmpfs", "tmpfs", strdup(data), MS_NOSUID_ | MS_NODEV_, 0, 0});
      continue;
    }
    if (b[i].kind == BIND_MQUEUE) {
      mounts_add(ms, (struct mount){path_resolve("/", b[i].destination), "mqueue", "mqueue", "", MS_NOSUID_ | MS_NODEV_ | MS_NOEXEC_, 0, 0});
      continue;
    }
    if (b[i].kind == BIND_DIR || b[i].kind == BIND_SYMLINK) {
      const char *type = b[i].kind == BIND_DIR ? "dir" : "symlink";
      mounts_add(ms, (struct mount){path_resolve("/", b[i].destination), type, b[i].kind == BIND_DIR ? "" : b[i].source, "", mode, 0, 0});
      continue;
    }
    char *source = path_resolve(cwd, b[i].source);
    if (!exists(source)) {
      if (b[i].optional) continue;
      fall_back("a bind source is missing");
    }
    uint32_t flags = MS_BIND_ | MS_REC_ | (b[i].kind == BIND_RO ? MS_RDONLY_ : 0);
    mounts_add(ms, (struct mount){path_resolve("/", b[i].destination), "bind", source, "", flags, 1, b[i].kind == BIND_RO});
  }
  for (int i = first + 1; i < ms->n; i++) /* insertion sort: stable, as Array.prototype.sort */
    for (int j = i; j > first && depth(ms->m[j - 1].destination) > depth(ms->m[j].destination); j--) {
      struct mount t = ms->m[j];
      ms->m[j] = ms->m[j - 1], ms->m[j - 1] = t;
    }
}

/* spec.ts sandboxSpec's mounts, in order; its home and working directory. */
static void spec_mounts(const struct plan_input *in, const char *home, struct mounts *ms, struct mounts *links, struct env *own) {
  const struct options *o = in->o;
  mounts_add(ms, (struct mount){"/", "tmpfs", "tmpfs", "mode=0755", MS_NOSUID_ | MS_NODEV_, 0, 0});
  system_dirs(ms, links);
  mounts_add(ms, (struct mount){"/proc", "proc", "proc", "", MS_NOSUID_ | MS_NOEXEC_ | MS_NODEV_, 0, 0});
  mounts_add(ms, (struct mount){"/dev", "tmpfs", "tmpfs", "mode=755,size=65536k", MS_NOSUID_ | MS_STRICTATIME_, 0, 0});
  mounts_add(ms, (struct mount){"/tmp", "tmpfs", "tmpfs", "mode=1777", MS_NOSUID_ | MS_NODEV_, 0, 0});
  if (o->home != NULL) {
    if (home == NULL) fall_back("--home without a HOME");
    user_binds(&(struct bind){.kind = BIND_RW, .source = o->home, .destination = home, .mode = -1}, 1, in->cwd, ms);
  } else if (home != NULL) {
    mounts_add(ms, (struct mount){home, "tmpfs", "tmpfs", "mode=0700", MS_NOSUID_ | MS_NODEV_, 0, 0});
  }
  user_binds(o->binds, o->nbinds, in->cwd, ms);
  passthrough(o, &in->host, in->uid, ms, own);
  for (int i = 0; i < o->nchmods; i++) { /* --chmod after every other step */
    if (o->chmods[i].path[0] != '/') fall_back("a relative --chmod");
    mounts_add(ms, (struct mount){path_resolve("/", o->chmods[i].path), "chmod", "", "", (uint32_t)o->chmods[i].mode, 0, 0});
  }
  for (int i = 0; i < o->nremount_ro; i++) { /* --remount-ro last of all */
    if (o->remount_ro[i][0] != '/') fall_back("a relative --remount-ro");
    const char *path = path_resolve("/", o->remount_ro[i]);
    if (strcmp(path, "/") != 0) mounts_add(ms, (struct mount){path, "remount-ro", "", "", 0, 0, 0}); /* /: READONLY_ROOT */
  }
}

/* plan.ts filesystemSteps: the mounts in order, /dev's devices after /dev, the links after /. */
static void fs_records(struct buf *plan, const struct mounts *ms, const struct mounts *links, const char *rootfs) {
  for (int i = 0; i < ms->n; i++) {
    const struct mount *m = &ms->m[i];
    if (is_path(m)) {
      if (strcmp(m->type, "dir") == 0) record_mode_path(plan, TAG_DIR, m->flags, inside_root(rootfs, m->destination));
      else if (strcmp(m->type, "chmod") == 0) record_mode_path(plan, TAG_CHMOD, m->flags, inside_root(rootfs, m->destination));
      else if (strcmp(m->type, "remount-ro") == 0) record_strs(plan, TAG_REMOUNT_RO, inside_root(rootfs, m->destination), NULL);
      else if (strcmp(m->type, "symlink") == 0) record_strs(plan, TAG_SYMLINK_IN_ROOT, m->source, inside_root(rootfs, m->destination));
      else record_file(plan, m, inside_root(rootfs, m->destination));
      continue;
    }
    if (m->bind && strcmp(m->source, "/dev/mqueue") == 0 && !is_directory("/dev/mqueue")) continue;
    mount_record(plan, m, inside_root(rootfs, m->destination));
    if (strcmp(m->destination, "/dev") == 0 && strcmp(m->type, "tmpfs") == 0) dev_steps(plan, ms, rootfs);
    if (strcmp(m->destination, "/") == 0)
      for (int j = 0; j < links->n; j++) record_strs(plan, TAG_SYMLINK, links->m[j].source, inside_root(rootfs, links->m[j].destination));
  }
  for (int i = 0; MASKED[i] != NULL; i++) record_strs(plan, TAG_MASK, inside_root(rootfs, MASKED[i]), NULL);
  for (int i = 0; READONLY[i] != NULL; i++) record_strs(plan, TAG_READONLY, inside_root(rootfs, READONLY[i]), NULL);
}

void build_plan(const struct plan_input *in, struct buf *plan) {
  const char *home = home_dir(&in->host);
  struct mounts ms = {0}, links = {0};
  struct env own = {0};
  spec_mounts(in, home, &ms, &links, &own);
  const char *cwd = home != NULL ? home : "/";
  if (in->o->chdir != NULL) {
    if (in->o->chdir[0] != '/') fall_back("a relative --chdir");
    cwd = path_resolve("/", in->o->chdir);
  }
  struct env env = sandbox_env(in, home, &own);
  buf_u32(plan, WIRE_MAGIC), buf_u32(plan, WIRE_VERSION);
  record_u32(plan, TAG_PDEATHSIG, 9 /* SIGKILL */);
  uint32_t clone = 0x10000000 | 0x00020000 | 0x20000000 | 0x08000000 | 0x04000000; /* user mount pid ipc uts */
  clone |= (in->o->share_net ? 0 : 0x40000000 /* net */) | (in->o->unshare_cgroup ? 0x02000000 /* cgroup */ : 0);
  record_u32(plan, TAG_CLONE_FLAGS, clone);
  record_u32(plan, TAG_PROPAGATION, MS_REC_ | MS_SLAVE_);
  record_strs(plan, TAG_ROOTFS, in->rootfs, NULL);
  fs_records(plan, &ms, &links, in->rootfs);
  for (int i = 0; i < in->o->nremount_ro; i++)
    if (in->o->remount_ro[i][0] == '/' && strcmp(path_resolve("/", in->o->remount_ro[i]), "/") == 0) {
      plan_record(plan, TAG_READONLY_ROOT, &(struct buf){0});
      break;
    }
  if (in->o->hostname != NULL) record_strs(plan, TAG_HOSTNAME, in->o->hostname, NULL);
  if (!in->o->share_net) plan_record(plan, TAG_LOOPBACK, &(struct buf){0});
  process_records(plan, in, cwd, &env);
}
