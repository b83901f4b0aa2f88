/*
 * What the C fronts (hutch-sandbox: sandbox*.c; hutch-run-front: run-front*.c) share: the byte
 * buffer of the wire, Node's path.posix, and the plan's records as src/runtime/nsexec.ts encodes
 * them (front-util.c). Each front defines fall_back: hand the command line to the TypeScript path.
 */
#ifndef HUTCH_FRONT_H
#define HUTCH_FRONT_H

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

/* Exec the TypeScript path with the same words (or, with the front's NO_NODE switch, say why and exit 99). */
_Noreturn void fall_back(const char *why);
/* Whether the variable (the front's NO_NODE switch) is "1"; `node INSTALL/bin/hutch` with words[1..]. */
int no_node(const char *variable);
_Noreturn void exec_node(const char *install, char **words);

int utf8_valid(const unsigned char *s);

/* Node's path.posix for absolute paths (normalize keeps a trailing slash, resolve does not). */
char *path_normalize(const char *p);
char *path_resolve(const char *base, const char *p);
char *path_join(const char *a, const char *b);
/* Whether `path` is beneath `dir` (both normalized, `dir` without a trailing slash), not `dir` itself. */
int path_beneath(const char *path, const char *dir);

/* mount(2) flags and the MOUNT record's ops (docs/wire.md), as plan.ts writes them. */
enum {
  MS_RDONLY_ = 0x1, MS_NOSUID_ = 0x2, MS_NODEV_ = 0x4, MS_NOEXEC_ = 0x8, MS_BIND_ = 0x1000,
  MS_REC_ = 0x4000, MS_SLAVE_ = 0x80000, MS_STRICTATIME_ = 0x1000000,
  MS_SYNCHRONOUS_ = 0x10, MS_DIRSYNC_ = 0x80, MS_NOATIME_ = 0x400, MS_NODIRATIME_ = 0x800, MS_RELATIME_ = 0x200000,
};
enum { OP_MKDIR = 1, OP_MKFILE = 2, OP_REMOUNT_RO = 4, OP_NO_SYMLINKS = 16 };
/* devices.ts devSteps for a spec without linux.devices: the host's devices bound, /dev's links (NULL-ended). */
extern const char *const DEVICES[];
extern const char *const DEV_LINKS[][2];

/* paths.ts privateDir: a state folder that is missing (or cannot be looked at), or a directory of
   our own no one else may write; mkdir -p with `mode` for each folder made. */
int private_dir(const char *dir);
int mkdir_p(const char *path, unsigned mode);
/* paths.ts's runtime folder without XDG_RUNTIME_DIR: /tmp/hutch-UID, made 0700, private or handed over. */
char *tmp_runtime_dir(void);
/* bundle-loader.cts cachePath's folder without HUTCH_CODE_CACHE_DIR: $XDG_RUNTIME_DIR/hutch/code-cache
   (or /tmp/hutch-UID/code-cache outside a user namespace), made 0700; NULL when it is not private. */
char *code_cache_dir(void);
/* linux.ts capabilityName: the bit of "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" (`len` bytes), or -1. */
int capability_number(const char *name, size_t len);
/* plan.ts's inside: a container path resolved under the root (`..` stops there), malloc'd. */
char *inside_root(const char *rootfs, const char *path);
/* Whether `path` is a directory, symlinks followed (plan.ts isDirectory). */
int is_directory(const char *path);
/* cgroup2's usual mount point, where hutch's cgroup code looks. */
#define CGROUP_MOUNT "/sys/fs/cgroup"
/* cgroups/detect.ts detectHost: whether the host is 'unified' (a cgroup2 mount and no v1 controller
   mounted; cgroup2 over /sys/fs/cgroup hides those before it); *v2_mount: where cgroup2 is (the
   first, or /sys/fs/cgroup). Falls back when /proc/self/mounts cannot be read. */
int unified_host(char **v2_mount);
/* CapEff of /proc/self/status in *caps: 0, or -1 when it cannot be read. */
int effective_caps(unsigned long long *caps);
/* The folder of this binary (native/), malloc'd; NULL when /proc/self/exe cannot be read. */
char *own_folder(void);
/* Whether `path` names something (symlinks followed), as Node's existsSync. */
int exists(const char *path);
/* `text` written to `path` in one write(2) (a /proc map or a cgroup file takes a value whole; a short
   write fails), opened O_WRONLY|O_CLOEXEC|`flags` (O_CREAT: mode 0666 less the umask): 0, or -1 with errno. */
int write_text(const char *path, const char *text, int flags);
/* in-root.ts resolveInRoot: the host path `path` of the tree at `root` resolves to, every component,
   symlinks included, resolved inside it ("/.." stays at the root, an absolute link starts again
   from it), malloc'd; NULL for a loop (over 40 links) or any error (absent). */
char *resolve_in_root(const char *root, const char *path);
/* atomic-write.ts atomicWriteFile: `text` in a temporary file beside `path` (its folder made as
   mkdirSync's recursive does), renamed over it; `durable`: the file and the folder fsynced. 0 or -1. */
int atomic_write(const char *path, const char *text, int durable);
/* A regular file's bytes appended to `out`: 0; -1 when it is missing; -2 when it cannot be read or is no regular file. */
int read_text(const char *path, struct buf *out);
/* src/sys/on-path.ts findOnPath: `tool`'s absolute path, the first PATH entry (default
   /usr/local/bin:/usr/bin:/bin; an empty one is `cwd`) where it is an executable regular file; NULL if none. */
char *find_on_path(const char *tool, const char *cwd);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
uint64_t now_ms(void);
/* environ as Node's process.env lists it (Object.entries, so startDaemon's envList and a spawn's
   default env): a name once, with its first value (getenv's), where it first came; no entry without
   '=', of an empty name or of an array index's ("10"). NULL-ended; the strings are environ's. */
char **node_environ(void);
/* Closes every fd from `first` up (close_range, or one by one to the fd limit on a kernel before 5.9). */
void close_from(int first);

/* One record of the plan: u16 tag, u32 length, the payload; record_strs: one or two strings (b may be NULL). */
void plan_record(struct buf *plan, unsigned tag, const struct buf *payload);
void record_u32(struct buf *plan, unsigned tag, uint32_t v);
void record_strs(struct buf *plan, unsigned tag, const char *a, const char *b);
/* plan.ts mountStep's record: u32 flags, u32 ops, source, target, fstype, data. */
void record_mount(struct buf *plan, uint32_t flags, uint32_t ops, const char *source, const char *target, const char *fstype,
                  const char *data);


/* Running hutch-nsexec (front-helper.c; wire.h has the sync messages): the helper started with the plan sent
   (fd 4 `sync`, fd 5 `fail` returned; its fds 0 to `ignored`-1 /dev/null: stdio 'ignore'), signals caught from then on and forwarded once GO is sent
   (helper_early: the first signal that came before, 0 if none). */
#include <sys/types.h>
pid_t helper_spawn(const char *helper, const char *argv0, const struct buf *plan, int ignored, int *sync, int *fail);
/* Another helper of the run (the union's daemon, its holder), no signal caught: its fd i is stdio[i],
   STDIO_NULL or STDIO_INHERIT; -1 when it cannot be started. */
enum { STDIO_INHERIT = -1, STDIO_NULL = -2 };
pid_t helper_start(const char *helper, const struct buf *plan, const int stdio[3], int *sync, int *fail);
int helper_early(void);
void helper_go(pid_t pid, int sync);
int read_full(int fd, void *p, size_t n);
int write_full(int fd, const void *p, size_t n);
int wait_status(pid_t pid);

#endif
