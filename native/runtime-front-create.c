/*
 * `create --bundle B [--pid-file F] [--console-socket S] ID` in the C front: what src/engine/oci/lifecycle.ts ociCreate
 * does for a bundle runtime-front-spec.c reads whole, on a host where the container gets no cgroup
 * of its own (no cgroupsPath, no --systemd-cgroup, a host without cgroup v2 alone) and with the
 * seccomp filter the Node verb compiled once already (its filter cache: src/security/seccomp/
 * filter-cache.ts, precompiled.ts). Engines create every container through the runtime, and a
 * Node start was most of create's cost (44-49 ms against runc's 20-24).
 *
 * Anything else goes to Node before anything changed (-1). Once the entry is reserved, a failure
 * (a helper step, the pid file) is undone (the process killed, the entry removed) and the whole
 * command handed to Node too: it does the create again and words the error as it always has.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"
#include "proc-start.h"
#include "runtime-front.h"
#include "wire.h"

/* 32-bit FNV-1a of an ASCII text (filter-cache.ts fnv1a hashes UTF-16 code units: the same for ASCII). */
static uint32_t fnv1a(const char *text, size_t n) {
  uint32_t hash = 0x811c9dc5u;
  for (size_t i = 0; i < n; i++) hash = (hash ^ (unsigned char)text[i]) * 0x01000193u;
  return hash;
}

/* precompiled.ts seccompProgram for a profile (its JSON.stringify text: the config is canonical):
   the build's own file when the build compiled exactly this profile, else the user's filter cache
   (filter-cache.ts). 0 with the program in `out`; -1 when Node must compile it (and keep it). */
static int seccomp_filter(const char *install, struct jv profile, struct buf *out) {
#if defined(__x86_64__)
  static const char ARCH[] = "SCMP_ARCH_X86_64", KEY_HEAD[] = "SCMP_ARCH_X86_64 3221225534 64 0\n";
#elif defined(__aarch64__)
  static const char ARCH[] = "SCMP_ARCH_AARCH64", KEY_HEAD[] = "SCMP_ARCH_AARCH64 3221225655 64 0\n";
#else
  return -1;
#endif
  for (size_t i = 0; i < profile.n; i++)
    if ((unsigned char)profile.p[i] >= 0x80) return -1;
  char *dir = str_cat(install, "/dist/bundle", ""), *index_path = str_cat(dir, "/seccomp-filters.json", "");
  struct buf index = {0};
  struct stat st;
  if (stat(index_path, &st) != 0 || read_text(index_path, &index) != 0) return -1; /* not built with filters: Node */
  /* the build's index: [{file, arch, profile}], the profile as JSON.stringify text */
  struct jv root, entry, k, v;
  struct jiter it;
  int canonical;
  buf_add(&index, "", 1);
  index.len--;
  if (json_check(index.p, index.len, &root, &canonical) != 0 || *root.p != '[') return -1;
  json_iter(&it, root);
  while (json_next(&it, &k, &entry)) {
    char *arch = NULL, *text = NULL, *file = NULL;
    size_t n = 0, fn = 0, an = 0;
    if (!json_member(entry, "arch", &v) || json_str(v, &arch, &an) < 0 || strcmp(arch, ARCH) != 0) continue;
    if (!json_member(entry, "profile", &v) || json_str(v, &text, &n) < 0 || n != profile.n || memcmp(text, profile.p, n) != 0)
      continue;
    if (!json_member(entry, "file", &v) || json_str(v, &file, &fn) < 0 || strchr(file, '/') != NULL) return -1;
    struct buf program = {0};
    if (read_text(str_cat(dir, "/", file), &program) != 0 || program.len == 0 || program.len % 8 != 0) return -1;
    return *out = program, 0;
  }
  /* the user's cache, named by the build (its index's size and time) and the key's hash */
  const char *env = getenv("HUTCH_CODE_CACHE_DIR");
  char *cache = env != NULL ? (*env ? str_cat(env, "", "") : NULL) : code_cache_dir();
  struct stat cs;
  if (cache == NULL || lstat(cache, &cs) != 0 || !S_ISDIR(cs.st_mode) || cs.st_uid != getuid() || (cs.st_mode & 022)) return -1;
  long long ms = (long long)((double)st.st_mtim.tv_sec * 1000.0 + (double)st.st_mtim.tv_nsec / 1e6);
  struct buf key = {0};
  buf_add(&key, KEY_HEAD, strlen(KEY_HEAD));
  buf_add(&key, profile.p, profile.n);
  char name[128];
  snprintf(name, sizeof name, "/seccomp-%lld.%lld-%08x.bpf", (long long)st.st_size, ms, fnv1a(key.p, key.len));
  struct buf kept = {0};
  if (read_text(str_cat(cache, name, ""), &kept) != 0 || kept.len < 4) return -1;
  uint32_t key_len = (uint32_t)(unsigned char)kept.p[0] | (uint32_t)(unsigned char)kept.p[1] << 8 |
                     (uint32_t)(unsigned char)kept.p[2] << 16 | (uint32_t)(unsigned char)kept.p[3] << 24;
  if (key_len != key.len || kept.len < 4 + key.len || memcmp(kept.p + 4, key.p, key.len) != 0) return -1;
  size_t size = kept.len - 4 - key.len;
  if (size == 0 || size % 8 != 0) return -1;
  out->p = NULL, out->len = out->cap = 0;
  buf_add(out, kept.p + 4 + key.len, size);
  return 0;
}

/* The record as state.ts writeRecord writes it (JSON.stringify of ociCreate's object, key order included). */
static char *record_text(const char *id, const char *bundle, const char *spec, size_t spec_len, long long pid,
                         long long pid_start, const char *created, const char *status, long long owner, long long owner_start) {
  struct out o = {0};
  char num[64];
  out_str(&o, "{\"id\":"), out_json_str(&o, id, strlen(id));
  out_str(&o, ",\"bundle\":"), out_json_str(&o, bundle, strlen(bundle));
  out_str(&o, ",\"spec\":"), out_add(&o, spec, spec_len);
  snprintf(num, sizeof num, ",\"pid\":%lld", pid), out_str(&o, num);
  if (pid_start >= 0) snprintf(num, sizeof num, ",\"pidStart\":%lld", pid_start), out_str(&o, num);
  out_str(&o, ",\"created\":"), out_json_str(&o, created, strlen(created));
  out_str(&o, ",\"status\":\""), out_str(&o, status), out_str(&o, "\"");
  if (owner > 0) {
    snprintf(num, sizeof num, ",\"owner\":{\"pid\":%lld", owner), out_str(&o, num);
    if (owner_start >= 0) snprintf(num, sizeof num, ",\"start\":%lld", owner_start), out_str(&o, num);
    out_str(&o, "}");
  }
  out_str(&o, "}\n");
  return o.buf;
}

/* entries.ts reserve, for an id no entry has: ROOT/ID made with the creating record under the
   root's lock. 0; 1 when the id has an entry or a folder already (Node: a leftover, "exists");
   -1 when it cannot be made. */
static int reserve(const char *root, const char *id, const char *text) {
  char *lock = str_cat(root, "/.lock", ""), *dir = str_cat(root, "/", id);
  struct stat st;
  int fd = open(lock, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666), rc = -1;
  if (fd < 0 || flock(fd, LOCK_EX) < 0) goto out;
  if (lstat(dir, &st) == 0 || errno != ENOENT) {
    rc = 1;
    goto out;
  }
  if (mkdir(dir, 0700) != 0) goto out;
  rc = write_record_text(root, id, text, strlen(text)) == 0 ? 0 : (rm_tree(dir), -1);
out:
  if (fd >= 0) close(fd);
  free(lock), free(dir);
  return rc;
}

/* The container's own user namespace's maps (newidmap.ts writeIdMaps): written by this process,
   root of a user namespace with CAP_SETUID/CAP_SETGID (podman's --userns keep-id, --uidmap), or of
   the caller's id alone (gid: setgroups denied first). */
struct id_maps {
  char *text[2]; /* uid, gid; NULL without a user namespace */
  int deny_setgroups;
};

/* 0, or -1 when a map needs newuidmap/newgidmap (Node's: the helper runs them there). */
static int id_maps_of(const struct spec *spec, struct id_maps *m) {
  int own_alone[2] = {0, 0};
  unsigned long long caps = 0; /* newidmap.ts hasCapability: CAP_SETUID (7), CAP_SETGID (6) effective */
  memset(m, 0, sizeof *m);
  for (int kind = 0; kind < 2; kind++) {
    if (!spec_id_map(spec, kind, kind ? getgid() : getuid(), &m->text[kind], &own_alone[kind])) return 0;
    if (kind == 0 && effective_caps(&caps) != 0) caps = 0;
    int way_capable = (caps >> (kind ? 6 : 7)) & 1;
    if (!way_capable && !own_alone[kind]) return -1;
    if (kind == 1) m->deny_setgroups = !way_capable;
  }
  return 0;
}

static int write_id_maps(pid_t pid, const struct id_maps *m) {
  char path[64];
  for (int kind = 0; kind < 2 && m->text[kind] != NULL; kind++) {
    if (kind == 1 && m->deny_setgroups) {
      snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
      if (write_text(path, "deny", 0) != 0) return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/%s_map", (int)pid, kind ? "gid" : "uid");
    if (write_text(path, m->text[kind], 0) != 0) return -1;
  }
  return 0;
}

/* The helper's messages of a create: CLONED with the child's pid (in *child as soon as known), the
   maps written, MAPPED sent, READY. 0, or -1 when the helper or a map failed. */
static int helper_steps(int sync, const struct id_maps *maps, pid_t *child) {
  unsigned char msg;
  int32_t pid;
  if (read_full(sync, &msg, 1) != 0 || msg != SYNC_CLONED || read_full(sync, &pid, 4) != 0 || pid <= 0) return -1;
  *child = (pid_t)pid;
  if (write_id_maps((pid_t)pid, maps) != 0) return -1;
  msg = SYNC_MAPPED;
  if (write_full(sync, &msg, 1) != 0) return -1;
  return read_full(sync, &msg, 1) == 0 && msg == SYNC_READY ? 0 : -1;
}

int verb_create(const struct args *a, const char *root) {
  struct stat st;
  char cwd[4096], created[40];
  if (!valid_id(a->id) || a->systemd_cgroup || getcwd(cwd, sizeof cwd) == NULL || stat(root, &st) != 0) return -1;
  iso_now(created, sizeof created);
  char *bundle = path_resolve(cwd, a->bundle != NULL ? a->bundle : "."), *config = path_join(bundle, "config.json");
  struct buf text = {0};
  if (read_text(config, &text) != 0) return -1;
  buf_add(&text, "\n", 2); /* json_check's canonical form is writeRecord's: the text and a newline (and a NUL) */
  text.len--;
  struct jv doc, root_obj, path, seccomp;
  struct spec *spec;
  int canonical;
  if (json_check(text.p, text.len, &doc, &canonical) != 0 || !canonical ||
      spec_read(doc, a->console_socket != NULL, &spec) != 0)
    return -1;
  struct jv linux_obj = {0}; /* spec_read took no cgroupsPath: a cgroup is made only where the host is v2 alone */
  char *v2_mount;
  json_member(doc, "linux", &linux_obj);
  if (unified_host(&v2_mount)) return -1;
  json_member(doc, "root", &root_obj), json_member(root_obj, "path", &path);
  char *root_path = NULL;
  size_t n;
  if (json_str(path, &root_path, &n) < 0) return -1;
  char *rootfs = path_resolve(bundle, root_path), *install = install_dir();
  if (install == NULL || !exists(rootfs)) return -1;
  struct buf filter = {0};
  int has_filter = linux_obj.n > 0 && json_member(linux_obj, "seccomp", &seccomp);
  if (has_filter && seccomp_filter(install, seccomp, &filter) != 0) return -1;
  char *dir = str_cat(root, "/", a->id), *fifo = str_cat(dir, "/exec.fifo", "");
  /* lifecycle.ts requireConsole: a relative socket resolved, an absolute one as given */
  const char *console = a->console_socket == NULL || a->console_socket[0] == '/' ? a->console_socket
                                                                                : path_resolve(cwd, a->console_socket);
  struct create_plan in = {rootfs, fifo, console, has_filter ? &filter : NULL};
  struct buf plan = {0};
  if (spec_plan(spec, &in, &plan) != 0) return -1;
  struct id_maps maps;
  if (id_maps_of(spec, &maps) != 0) return -1;
  const char *nsexec_env = getenv("HUTCH_NSEXEC");
  char *helper = nsexec_env != NULL && *nsexec_env ? str_cat(nsexec_env, "", "") : str_cat(install, "/native/hutch-nsexec", "");
  if (access(helper, X_OK) != 0) return -1;
  char *pid_file = a->pid_file != NULL ? path_resolve(cwd, a->pid_file) : NULL;

  /* The spec as the record keeps it: config.json's text with root.path resolved (lifecycle.ts loadBundle). */
  struct out spec_text = {0};
  out_add(&spec_text, doc.p, (size_t)(path.p - doc.p));
  out_json_str(&spec_text, rootfs, strlen(rootfs));
  out_add(&spec_text, path.p + path.n, (size_t)(doc.p + doc.n - (path.p + path.n)));
  pid_t self = getpid();
  char *creating = record_text(a->id, bundle, spec_text.buf, spec_text.len, 0, -1, created, "creating", self, process_start(self));
  if (reserve(root, a->id, creating) != 0) return -1;

  /* From here on the entry exists: a failure removes it and hands the command to Node. */
  signal(SIGPIPE, SIG_IGN); /* a helper that ends early closes the plan's end */
  int sync = -1, fail = -1;
  pid_t helper_pid = -1, child = -1;
  if (mkfifo(fifo, 0600) != 0 || chmod(fifo, 0622) != 0) goto undo; /* writable by the container's root, as runc's */
  int stdio = spec_terminal(spec) ? STDIO_NULL : STDIO_INHERIT; /* the pty is the process's stdio */
  helper_pid = helper_start(helper, &plan, (const int[3]){stdio, stdio, stdio}, &sync, &fail);
  if (helper_pid < 0 || helper_steps(sync, &maps, &child) < 0) goto undo;
  char *record = record_text(a->id, bundle, spec_text.buf, spec_text.len, child, process_start(child), created, "created", 0, -1);
  if (write_record_text(root, a->id, record, strlen(record)) != 0) goto undo;
  if (pid_file != NULL) {
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%d", (int)child);
    if (atomic_write(pid_file, pid_text, 0) != 0) goto undo;
  }
  close(sync), close(fail);
  return 0;
undo:
  if (child > 0) kill(child, SIGKILL); /* detached: no parent-death signal ends it */
  if (helper_pid > 0) kill(helper_pid, SIGKILL), waitpid(helper_pid, NULL, 0);
  if (sync >= 0) close(sync), close(fail);
  rm_tree(dir);
  return -1;
}
