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

/* A growable byte buffer; a failed allocation ends the process (nothing has run yet then). */
struct buf {
  char *p;
  size_t len, cap;
};
void buf_add(struct buf *b, const void *data, size_t n);
void buf_u32(struct buf *b, uint32_t v);
void buf_u64(struct buf *b, uint64_t v);
/* A wire string (u32 length with the NUL, bytes, NUL); a string that is not UTF-8 falls back. */
void buf_str(struct buf *b, const char *s);
char *buf_cstr(struct buf *b); /* NUL-terminated copy of b's bytes */
char *str_cat(const char *a, const char *b, const char *c);

/* Exec the TypeScript path with the same words (or, with HUTCH_SANDBOX_NO_NODE=1, say why and exit 99). */
_Noreturn void fall_back(const char *why);

/* BIND_DIR: --dir DST; BIND_SYMLINK: --symlink SOURCE DST, SOURCE being the link's text;
   BIND_FILE, BIND_DATA, BIND_RO_DATA: --file, --bind-data, --ro-bind-data FD DST. */
enum bind_kind { BIND_RW, BIND_RO, BIND_DEV, BIND_TMPFS, BIND_DIR, BIND_SYMLINK, BIND_FILE, BIND_DATA, BIND_RO_DATA };
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
  int share_net, clearenv, die_with_parent, dri;
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

/* Node's path.posix for absolute paths (normalize keeps a trailing slash, resolve does not). */
char *path_normalize(const char *p);
char *path_resolve(const char *base, const char *p);
char *path_join(const char *a, const char *b);

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
/* One record of the plan: u16 tag, u32 length, the payload. */
void plan_record(struct buf *plan, unsigned tag, const struct buf *payload);
/* A --file or --bind-data's FILE record (sandbox-data.c). */
void record_file(struct buf *plan, const struct mount *m, const char *path);

/* Runs hutch-nsexec with the plan (src/runtime/nsexec.ts spawnHelper + launch.ts runContainer). */
int run_helper(const char *helper, const struct buf *plan, unsigned uid, unsigned gid);

#endif
