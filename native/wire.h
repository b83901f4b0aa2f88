/*
 * The wire between hutch (TypeScript, src/runtime/nsexec.ts) and hutch-nsexec. docs/wire.md
 * describes it in full; the numbers here and the length rules must agree with the one table,
 * src/runtime/wire-table.ts (a unit test reads this header and compares).
 *
 * fd 3, plan (TypeScript -> helper, read whole before clone, <= 16 MiB):
 *   u32 magic WIRE_MAGIC, u32 version WIRE_VERSION, then records: u16 tag | u32 len | bytes.
 *   Integers are little-endian. A string is u32 len (counting its trailing NUL) + bytes + NUL.
 * fd 4, sync (both ways): one-byte messages; SYNC_CLONED alone carries a u32 pid after it.
 * fd 5, failures (helper -> TypeScript): {u32 step, i32 errno, u32 record}; EOF = exec succeeded.
 *   STEP_ID_MAP alone is followed by text: what the tool wrote to stderr (at most 4 KiB).
 */
#ifndef HUTCH_WIRE_H
#define HUTCH_WIRE_H

#define WIRE_MAGIC 0x58534e48u /* "HNSX" */
#define WIRE_VERSION 1u
#define WIRE_MAX_PLAN (16u << 20) /* room for FILE records' bytes (hutch sandbox caps them at 8 MiB) */

enum wire_tag {
  TAG_CLONE_FLAGS = 1,   /* u32 clone flags (CLONE_NEW*); CLONE_NEWCGROUP is unshared after GO */
  /* 2: reserved (was WAIT_MAPS; the child now always waits for SYNC_MAPPED) */
  TAG_ROOTFS = 3,        /* string: bind this on itself and pivot_root into it */
  TAG_MOUNT = 4,         /* u32 flags, u32 ops, string source, target, fstype, data */
  TAG_SYMLINK = 5,       /* string target, string linkpath */
  TAG_MASK = 6,          /* string path: /dev/null over a file, read-only tmpfs over a dir */
  TAG_READONLY = 7,      /* string path: bind on itself, remount read-only */
  TAG_HOSTNAME = 8,      /* string */
  TAG_LOOPBACK = 9,      /* empty: set lo up */
  TAG_RLIMIT = 10,       /* u32 resource, u64 soft, u64 hard */
  TAG_CWD = 11,          /* string */
  TAG_USER = 12,         /* u32 uid, u32 gid */
  TAG_GROUPS = 13,       /* u32 count, count x u32: setgroups (absent: setgroups not called) */
  TAG_CAPS = 14,         /* 5 x u64: bounding, effective, permitted, inheritable, ambient */
  TAG_NO_NEW_PRIVS = 15, /* empty */
  TAG_SECCOMP = 16,      /* struct sock_filter[len / 8] */
  TAG_ARG = 17,          /* string, repeated: argv */
  TAG_ENV = 18,          /* string, repeated: envp */
  TAG_TERMINAL = 19,     /* empty: open a pty in the container, master at fd PTY_MASTER_FD */
  TAG_INIT = 20,         /* empty: stay as PID 1, reap, forward signals; exec in a child */
  TAG_READONLY_ROOT = 21,/* empty: remount / read-only after pivot_root */
  TAG_PROPAGATION = 22,  /* u32 flags for mount(NULL, "/", ...) first, e.g. MS_REC|MS_SLAVE */
  TAG_PDEATHSIG = 23,    /* u32 signal the helper gets when its parent dies */
  TAG_UMASK = 24,        /* u32 */
  TAG_SETNS = 25,        /* u32 CLONE_NEW* type, string path: join before clone (user first) */
  TAG_DETACH = 26,       /* empty: no parent-death signal for the child; the helper exits once it is cloned */
  TAG_START_FIFO = 27,   /* string path: after SYNC_READY, wait for a reader of this fifo instead of SYNC_GO */
  TAG_CONSOLE_SOCKET = 28,/* string path: send the pty master over this unix socket (SCM_RIGHTS) */
  TAG_TAP = 29,          /* string name: make a persistent tap device (IFF_TAP|IFF_NO_PI) before the mounts */
  TAG_PRESERVE_FDS = 30, /* u32 count, u32 first: the helper's fds first.. become the process's 3.. (--preserve-fds) */
  TAG_ROOT_PROPAGATION = 31, /* u32 flags for mount(NULL, "/", ...) after pivot_root (rootfsPropagation) */
  TAG_SYSCTL = 32,       /* string path under the root (proc/sys/...), string value: a filesystem step, written in order */
  TAG_HOME = 33,         /* empty: add HOME from the container's /etc/passwd for the user ("/" if none) */
  TAG_SECCOMP_FLAGS = 34,/* u32 SECCOMP_FILTER_FLAG_*: install the SECCOMP record with seccomp(2) and these flags */
  TAG_CHOWN_NOTIFY = 35, /* empty: the filter's SCMP_ACT_NOTIFY calls are the chown family; the helper records their owners in the union (chown-notify.c) */
  TAG_DIR = 36,          /* u32 mode, string path: mkdir -p inside the root (parents 0755 or less); an existing directory is fine */
  TAG_SYMLINK_IN_ROOT = 37, /* string target, string linkpath: symlink made inside the root (parents made); an identical one is fine */
  TAG_FILE = 38,         /* u32 mode, u32 ops (1 bind, 2 read-only), string path, string bytes (NULs inside allowed): a file inside the root */
  TAG_CHMOD = 39,        /* u32 mode, string path: chmod the path, followed inside the root; it must exist */
  TAG_REMOUNT_RO = 40,   /* string path: as READONLY, but the path must exist (ENOENT) */
  TAG_ARGV_ZERO = 41,    /* string: the process's argv[0]; the program run is still the first ARG */
  TAG_ID_MAP = 42,       /* u32 0 uid / 1 gid, string tool (an absolute path), string "C H N C H N...": run after clone, at once with the other */
  TAG_ON_ITS_OWN = 43,   /* empty: the helper lets its child go on once the ID_MAP tools wrote both maps, and it execs after READY without GO (docs/wire.md) */
  TAG_MAX = 43,
};

/*
 * How long each record's payload may be, by tag (check_plan applies it before anything runs).
 * The source is src/runtime/wire-table.ts; test/unit/runtime/nsexec.test.ts compares every row.
 * EXACT: len == bytes. MULTIPLE: len % bytes == 0. COUNTED: u32 count, then count x bytes.
 * STRINGS: `bytes` fixed bytes, then `strings` strings. A tag without a rule is refused.
 */
enum wire_len { LEN_NONE = 0, LEN_EXACT, LEN_MULTIPLE, LEN_COUNTED, LEN_STRINGS };
struct wire_rule {
  unsigned char kind, bytes, strings;
};
static const struct wire_rule wire_rules[TAG_MAX + 1] = {
  [TAG_CLONE_FLAGS] = {LEN_EXACT, 4, 0},
  [TAG_ROOTFS] = {LEN_STRINGS, 0, 1},
  [TAG_MOUNT] = {LEN_STRINGS, 8, 4},
  [TAG_SYMLINK] = {LEN_STRINGS, 0, 2},
  [TAG_MASK] = {LEN_STRINGS, 0, 1},
  [TAG_READONLY] = {LEN_STRINGS, 0, 1},
  [TAG_HOSTNAME] = {LEN_STRINGS, 0, 1},
  [TAG_LOOPBACK] = {LEN_EXACT, 0, 0},
  [TAG_RLIMIT] = {LEN_EXACT, 20, 0},
  [TAG_CWD] = {LEN_STRINGS, 0, 1},
  [TAG_USER] = {LEN_EXACT, 8, 0},
  [TAG_GROUPS] = {LEN_COUNTED, 4, 0},
  [TAG_CAPS] = {LEN_EXACT, 40, 0},
  [TAG_NO_NEW_PRIVS] = {LEN_EXACT, 0, 0},
  [TAG_SECCOMP] = {LEN_MULTIPLE, 8, 0},
  [TAG_ARG] = {LEN_STRINGS, 0, 1},
  [TAG_ENV] = {LEN_STRINGS, 0, 1},
  [TAG_TERMINAL] = {LEN_EXACT, 0, 0},
  [TAG_INIT] = {LEN_EXACT, 0, 0},
  [TAG_READONLY_ROOT] = {LEN_EXACT, 0, 0},
  [TAG_PROPAGATION] = {LEN_EXACT, 4, 0},
  [TAG_PDEATHSIG] = {LEN_EXACT, 4, 0},
  [TAG_UMASK] = {LEN_EXACT, 4, 0},
  [TAG_SETNS] = {LEN_STRINGS, 4, 1},
  [TAG_DETACH] = {LEN_EXACT, 0, 0},
  [TAG_START_FIFO] = {LEN_STRINGS, 0, 1},
  [TAG_CONSOLE_SOCKET] = {LEN_STRINGS, 0, 1},
  [TAG_TAP] = {LEN_STRINGS, 0, 1},
  [TAG_PRESERVE_FDS] = {LEN_EXACT, 8, 0},
  [TAG_ROOT_PROPAGATION] = {LEN_EXACT, 4, 0},
  [TAG_SYSCTL] = {LEN_STRINGS, 0, 2},
  [TAG_HOME] = {LEN_EXACT, 0, 0},
  [TAG_SECCOMP_FLAGS] = {LEN_EXACT, 4, 0},
  [TAG_CHOWN_NOTIFY] = {LEN_EXACT, 0, 0},
  [TAG_DIR] = {LEN_STRINGS, 4, 1},
  [TAG_SYMLINK_IN_ROOT] = {LEN_STRINGS, 0, 2},
  [TAG_FILE] = {LEN_STRINGS, 8, 2},
  [TAG_CHMOD] = {LEN_STRINGS, 4, 1},
  [TAG_REMOUNT_RO] = {LEN_STRINGS, 0, 1},
  [TAG_ARGV_ZERO] = {LEN_STRINGS, 0, 1},
  [TAG_ID_MAP] = {LEN_STRINGS, 4, 2},
  [TAG_ON_ITS_OWN] = {LEN_EXACT, 0, 0},
};

/* TAG_MOUNT ops: what to do around mount(2). */
#define MOUNT_OP_MKDIR 1u     /* create the target directory (and parents) */
#define MOUNT_OP_MKFILE 2u    /* create the target as an empty file (parents as dirs) */
#define MOUNT_OP_REMOUNT_RO 4u/* after a bind, remount read-only keeping the locked flags */
#define MOUNT_OP_COPYUP 8u    /* tmpcopyup: copy what the target directory held into the new mount */
#define MOUNT_OP_NO_SYMLINKS 16u/* no component of the target may be a symlink (proc, sysfs: runc's "ordinary directory") */

enum wire_sync {
  SYNC_CLONED = 1, /* helper -> ts, followed by u32 pid of the child (host pid namespace) */
  SYNC_MAPPED = 2, /* ts -> child: the id maps are written (or there are none); always sent after CLONED (not with TAG_ON_ITS_OWN) */
  SYNC_READY = 3,  /* child -> ts: namespaces and mounts done (created), waiting to start */
  SYNC_GO = 4,     /* ts -> child: exec the process (start); not with TAG_ON_ITS_OWN */
};

/* The pty master waits at this fd in the child between SYNC_READY and SYNC_GO (pidfd_getfd). */
#define PTY_MASTER_FD 6

enum wire_step {
  STEP_READ_PLAN = 1,
  STEP_PARSE_PLAN = 2,
  STEP_CLONE = 3,
  STEP_SYNC = 4,
  STEP_PROPAGATION = 5,
  STEP_ROOTFS = 6,
  STEP_MOUNT = 7,
  STEP_SYMLINK = 8,
  STEP_MASK = 9,
  STEP_READONLY = 10,
  STEP_PIVOT_ROOT = 11,
  STEP_READONLY_ROOT = 12,
  STEP_HOSTNAME = 13,
  STEP_LOOPBACK = 14,
  STEP_RLIMIT = 15,
  STEP_TERMINAL = 16,
  STEP_CWD = 17,
  STEP_SETGROUPS = 18,
  STEP_SETGID = 19,
  STEP_SETUID = 20,
  STEP_CAPS = 21,
  STEP_NO_NEW_PRIVS = 22,
  STEP_SECCOMP = 23,
  STEP_INIT = 24,
  STEP_SETSID = 25,
  STEP_EXEC = 26,
  STEP_PDEATHSIG = 27,
  STEP_CGROUPNS = 28,
  STEP_SETNS = 29,
  STEP_START_FIFO = 30,
  STEP_CONSOLE_SOCKET = 31,
  STEP_TAP = 32,
  STEP_PRESERVE_FDS = 33,
  STEP_ROOT_PROPAGATION = 34,
  STEP_COPYUP = 35,
  STEP_SYSCTL = 36,
  STEP_HOME = 37,
  STEP_SEAL = 38,      /* re-executing from a sealed memfd copy of the helper */
  STEP_CLOSE_FDS = 39, /* closing the fds the helper was not given */
  STEP_DIR = 40,       /* making a DIR record's directory */
  STEP_FILE = 41,      /* making a FILE record's file (or its bind) */
  STEP_CHMOD = 42,     /* a CHMOD record's chmod */
  STEP_ID_MAP = 43,    /* an ID_MAP record's tool (newuidmap, newgidmap) failed; its stderr follows the record */
};

#endif
