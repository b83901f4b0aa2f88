/*
 * hutch-sandbox: `hutch sandbox`'s fast path in C (docs/sandbox.md, "How it is made"). It builds
 * the same helper plan as the TypeScript path (src/sandbox -> src/runtime/plan.ts ->
 * src/runtime/nsexec.ts encodePlan), byte for byte (test/integration/sandbox-front.test.ts
 * compares them), and runs hutch-nsexec with it as src/runtime does. Anything it does not
 * handle, every error included, goes to the TypeScript path (fall_back): it never decides alone.
 */
#ifndef HUTCH_SANDBOX_H
#define HUTCH_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "front.h"

/* BIND_DIR: --dir DST; BIND_SYMLINK: --symlink SOURCE DST, SOURCE being the link's text;
   BIND_FILE, BIND_DATA, BIND_RO_DATA: --file, --bind-data, --ro-bind-data FD DST. */
/* BIND_MQUEUE: --mqueue DST. The data kinds last (kind >= BIND_FILE). */
enum bind_kind { BIND_RW, BIND_RO, BIND_DEV, BIND_TMPFS, BIND_DIR, BIND_SYMLINK, BIND_MQUEUE, BIND_FILE, BIND_DATA, BIND_RO_DATA };
struct bind {
  enum bind_kind kind;
  const char *source, *destination;
  int optional;
  int mode;     /* --perms right before it; -1 when none */
  const char *size; /* --tmpfs: --size right before it, in decimal without leading zeros; NULL when none */
  int fd;       /* the data flags' FD */
  char *bytes;  /* what was read from it (read_data) */
  size_t nbytes;
};
enum { SOCKET_KINDS = 5 };
/* What the flags asked for: src/sandbox/options.ts. */
struct options {
  char **args;
  struct bind *binds;
  int nbinds;
  const char *home, *chdir;
  int share_net, clearenv, die_with_parent, dri, unshare_cgroup;
  const char *hostname, *argv0;
  int info_fd, json_fd; /* --info-fd, --json-status-fd; 0 when not given (an FD is 3 or more) */
  const char **remount_ro; /* --remount-ro DST, in order: after every other step */
  int nremount_ro;
  const char **setenv; /* name, value pairs */
  int nsetenv;
  const char **unsetenv;
  int nunsetenv;
  int sockets[SOCKET_KINDS]; /* kinds (index into SOCKET_NAMES) in first-asked order */
  int nsockets;
  struct chmod {
    int mode;
    const char *path;
  } *chmods; /* --chmod OCTAL PATH, in order: after every other step */
  int nchmods;
};
void parse_options(char **words, int n, struct options *o);

/* Reads the data flags' fds (data.ts readCallerFd), each closed after; a fd that is not open
   falls back. restore_data puts what was read back at the same fds for the TypeScript path. */
void read_data(struct options *o);
void restore_data(void);
/* Reads the caller's fd to its end (at most `limit` bytes; `what` names it), closes it, and
   remembers the bytes for restore_data; fd_was_read: whether an fd was read so. */
void read_caller_fd(int fd, size_t limit, const char *what, struct buf *data);
int fd_was_read(int fd);
/* words[i] is --args FD: the words with the fd's in place of those two (*n updated; *end: the
   index after the fd's words). sandbox-args.c */
char **splice_args(char **words, int *n, int i, int *end);

/* Node's process.env as src/sandbox reads it: environ in order, first of a name wins (env.c). */
struct env {
  const char **name, **value;
  int n, cap;
};
void env_from_host(struct env *e);
const char *env_get(const struct env *e, const char *name);
/* Map.set: a name already there keeps its place. */
void env_set(struct env *e, const char *name, const char *value);
void env_unset(struct env *e, const char *name);
int env_blocked(const char *name);


/* One OCI mount of the sandbox's spec, its options already turned into mount(2) flags and data;
   or (type "dir" with its mode as flags, "symlink" with the link's text as source) a --dir or
   --symlink among them; or (type "file", "bind-data", "ro-bind-data": source the bytes read, `bind`
   their length, flags the mode) a --file or --bind-data; or (type "chmod", flags the mode) a --chmod. */
struct mount {
  const char *destination, *type, *source, *data;
  uint32_t flags;
  int bind, readonly;
};
struct mounts {
  struct mount *m;
  int n, cap;
};
void mounts_add(struct mounts *ms, struct mount m);
/* The sockets and devices asked for: binds and the variables naming them (sockets.ts). */
void passthrough(const struct options *o, const struct env *host, unsigned uid, struct mounts *ms, struct env *own);

/* The encoded plan, as src/runtime/nsexec.ts encodePlan writes it for the same command line. */
struct plan_input {
  const struct options *o;
  struct env host;
  unsigned uid, gid;
  const char *cwd, *rootfs;
  const struct buf *seccomp;
};
void build_plan(const struct plan_input *in, struct buf *plan);
/* The sandbox's environment (env.ts sandboxEnv) and the process's records, from CWD on (sandbox-env.c). */
struct env sandbox_env(const struct plan_input *in, const char *home, const struct env *own);
void process_records(struct buf *plan, const struct plan_input *in, const char *cwd, const struct env *env);
/* A --file or --bind-data's FILE record (sandbox-data.c). */
void record_file(struct buf *plan, const struct mount *m, const char *path);

/* Runs hutch-nsexec with the plan (src/runtime/nsexec.ts spawnHelper + launch.ts runContainer). */
int run_helper(const char *helper, const struct buf *plan, unsigned uid, unsigned gid, const struct options *o);

#endif
