/*
 * hutch-run-front: `hutch [--root DIR] run --rm [--network none|host|slirp4netns] (--rootfs DIR CMD | IMAGE [CMD])
 * [ARGS...]` without a Node.js start (docs/startup.md, "run --rootfs without Node.js", "run --rm IMAGE
 * without Node.js": an image of the user's store on the shared union daemon). It does what the
 * TypeScript path does for that command line (src/engine/container/foreground.ts runCommand):
 * the ephemeral folders and their lock, setup.json, the /etc files, the same helper plan byte for
 * byte (test/integration/run-front.test.ts compares them: HUTCH_RUN_PRINT_PLAN=1 on both paths),
 * the helper run, the clean-up. Anything else, every error included, it hands to the TypeScript
 * path with the same words before it made anything (fall_back, front.h).
 */
#ifndef HUTCH_RUN_FRONT_H
#define HUTCH_RUN_FRONT_H

#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#include "front.h"

/* The user's subordinate ranges of one kind as idmap.ts rootMaps lays them out (subid.ts
   mergeRanges: sorted, overlapping and adjacent ones merged): container ids 1..total. None (n 0):
   the user alone, its own id the whole map, which this front writes itself after the clone. */
enum { MAX_RANGES = 64 };
struct subids {
  unsigned long start[MAX_RANGES], count[MAX_RANGES];
  int n;
  unsigned long total; /* the sum of the counts: container ids 1..total are mapped */
  const char *tool;    /* newuidmap or newgidmap on PATH when n > 0 (the helper runs it: ID_MAP) */
};

/* -v/--volume HOST:CTR[:ro|rw] (run-front.c check_volumes): blueprint.ts volumeMount's bind. */
enum { MAX_VOLUMES = 64 };
struct volume {
  const char *source; /* the host path, resolved as path.resolve */
  const char *target; /* the rootfs joined with CTR resolved at / (plan.ts inside) */
  int readonly, dir;  /* dir: the source is a directory (MKDIR), else a file (MKFILE) */
};

/* --tmpfs DST[:OPTIONS] (blueprint.ts tmpfsMount, linux.ts mountOptions): a tmpfs at target, mkdir'd. */
struct tmpfs {
  const char *target; /* the rootfs joined with DST resolved at / */
  const char *inside; /* DST resolved at / */
  uint32_t flags;     /* nosuid,nodev then the options' flags */
  const char *data;   /* the other options, joined by ',' (mode=1777 when none were given) */
};

/* `run IMAGE` (run-front-image.c): the image of the user's own store, as resolve.ts describeImage
   gives it (its layers bottom-first), and its ExposedPorts (setup.json's `exposed`). */
struct image_layer {
  char *diff_id, *dir, *index; /* store.ts layerRoot and layerIndex */
};
struct image {
  const char *ref; /* IMAGE as given, or NULL: --rootfs */
  char *id;        /* sha256:HEX */
  struct image_layer *layers;
  int nlayers;
  char **exposed;
  int nexposed;
};

/* The command line and what the host gives it (run-front.c). */
struct run {
  const char *rootfs;  /* resolved against the working directory, as path.resolve; an image's: the union's mountpoint */
  const char *rootfs_flag; /* as given */
  int host_network;    /* --network host */
  int read_only;       /* --read-only: the root remounted read-only once the mounts are made */
  int init;            /* --init: the helper stays as the container's PID 1 (hutch-init), reaping and forwarding */
  int no_new_privileges; /* --security-opt no-new-privileges[=true|false]: the last one's */
  int env_host;        /* --env-host: the caller's variables (but host-env.ts' blocklist) under the rest */
  const char *shm_size; /* --shm-size as given, or NULL: 64m */
  unsigned long long shm_kib; /* the same in KiB, rounded up (check_shm_size); 0: the default */
  int slirp;           /* --network slirp4netns, or none given (the default: slirp4netns when installed) */
  const char *network_flag; /* --network as given, or NULL (setup.json's networkMode) */
  char *slirp_binary;  /* findOnPath('slirp4netns') */
  int slirp_sandbox, slirp_seccomp; /* its --help (cached by the TypeScript path) names the flag */
  char **args;         /* the command */
  const char **env;    /* --env-file lines, then -e/--env values, in order (read_env_files) */
  const char **env_files; /* --env-file values, in order */
  int nenv_files;
  int nenv;
  const char *workdir; /* -w/--workdir (absolute), or NULL: / */
  const char *hostname_flag; /* --hostname, or NULL: the id's first 12 digits */
  const char *user_spec;     /* -u/--user USER[:GROUP], or NULL: 0 */
  const char *entrypoint;    /* --entrypoint (an image's: one word, "" none), or NULL: the image's Entrypoint and Cmd */
  int interactive;           /* -i/--interactive: the container gets the caller's stdin (typed into its terminal with -t) */
  int tty;                   /* -t/--tty: the container's stdio is a pty, relayed to the caller's (run-front-tty.c) */
  const char **tmpfs_flags;  /* --tmpfs values, in order */
  struct etc_flag { /* --dns, --dns-search, --dns-option, --add-host: values in order (net/etc.ts EtcOptions) */
    const char **v;
    int n;
  } dns, dns_search, dns_option, add_host;
  const char **ulimit_flags; /* --ulimit values, in order */
  struct rlimit_flag {       /* the same, checked (check_ulimits) */
    uint32_t resource;
    uint64_t soft, hard;
  } *ulimits;
  int nulimits;
  struct tmpfs *tmpfs;       /* the same, checked (check_tmpfs) */
  int ntmpfs;
  const char **volume_flags; /* -v/--volume values, in order */
  struct volume *volumes;    /* the same, checked (check_volumes) */
  int nvolumes;
  char hostname[65];
  const char *root_flag;  /* --root as given (setup.json keeps it), or NULL */
  const char *data, *run; /* hutchPaths(): DATA and RUN */
  unsigned uid, gid;
  const char *user_name;
  char id[65];
  /* The id maps (run-front-conf.c): the user's own id to 0, its subordinate ranges from 1. */
  struct subids subuid, subgid;
  /* The container's user, from the rootfs' /etc/passwd and /etc/group (resolveUser -u or '0'). */
  unsigned long user_uid, user_gid;
  const char *home;    /* "" when the passwd entry has none */
  unsigned long *groups;
  int ngroups;
  uint64_t caps;       /* the capability set: containers.conf's default_capabilities or docker's */
  struct buf seccomp;  /* the build's compiled filter for that set */
  const char *etc_dir; /* RUN/ephemeral/ID: hosts, hostname, resolv.conf */
  struct image image;  /* run IMAGE */
  pid_t holder;        /* an image's: the union's holder, whose user and mount namespaces the container joins */
  pid_t netns_holder;  /* an image's with slirp4netns: the forwarder holding the network namespace the container joins */
  const char *native;  /* the front's folder (native/): hutch-forwarder */
  const char *pull;    /* --pull missing or never (the same for an image in the user's store), or NULL: missing */
  const char *ahead;   /* why Node runs it after all (-d, -p, --name), once the union's daemon is started ahead */
};

/* containers.conf (its subset), the subordinate ids, the tools, the user, the filter (run-front-conf.c). */
void read_conf(struct run *r, const char *home, const char *config_home, const char *install);
void read_id_maps(struct run *r, const char *cwd);
/* newidmap.ts writeIdMaps: the maps of the user alone (no range), written on the cloned container
   `pid` (setgroups denied before its gid_map); 0, or -1 when one cannot be written. */
int write_own_maps(const struct run *r, pid_t pid);
/* fs-probe.ts storeFs(DATA, DATA).userXattrs: from DATA/.fs-probe.json, or probed and cached there. */
int store_user_xattrs(const char *data);
void read_user(struct run *r);

/* run-front-image.c. find_image, before anything is made: IMAGE found by its stored name, or a
   short name's (resolve.ts namesFor: the alias, the search registries', localhost's), in
   DATA/images.json (else handed over: an id, a digest, one to pull or in another store), its config read and applied to the command line (image-config.ts applyImageConfig: the
   command, Env before -e, WorkingDir, User; declared Volumes are handed over). image_etc_text:
   userDatabase's /etc/passwd or /etc/group of the image. mark_image and unmark_image: store.ts
   markImageUsed (durable; 0 or -1) and unmarkImageUsed for the run's id. */
void find_image(struct run *r);
char *image_etc_text(const struct image *im, const char *name);
int mark_image(const struct run *r);
void unmark_image(const struct run *r);

/* run-front-registries.c, for short-names.ts candidates: the unqualified-search-registries
   (NULL-ended, empty when none is set) and in *alias the alias of the short name `name` (or
   NULL), read from registries.conf as registries-conf.ts loadRegistriesConf reads it; anything
   beyond its TOML subset is handed over. */
char **search_registries(const char *name, const char **alias);

/* The mounts every container gets before its -v binds (run-front-plan.c, the one list: the plan
   makes them, check_tree needs their targets in a --rootfs tree, check_volumes' binds beneath them
   need none), NULL-ended. `kind` says what the plan does beyond the record: SYSTEM_DEV binds the
   host's devices and makes /dev's links after it, SYSTEM_DEVPTS adds gid=5 where gid 5 is mapped,
   SYSTEM_SYS is the host's /sys bound with --network host, SYSTEM_ETC_FILE's source is the run's file. */
enum system_kind { SYSTEM_PLAIN, SYSTEM_DEV, SYSTEM_DEVPTS, SYSTEM_SYS, SYSTEM_ETC_FILE };
struct system_mount {
  const char *target, *source, *fstype, *data;
  uint32_t flags, ops;
  enum system_kind kind;
};
extern const struct system_mount SYSTEM_MOUNTS[];
/* Whether the absolute, normalized `path` is beneath one of them (made in that mount, not in the tree). */
int in_system_mount(const char *path);

/* The plan (run-front-plan.c), as src/runtime/nsexec.ts encodePlan writes it for the same run. */
void build_run_plan(const struct run *r, struct buf *plan);
/* Its ID_MAP record of one kind (0 uid, 1 gid), as idmap.ts rootMaps and mapArgs: the user's own id
   to 0, each range from container id 1 on; a kind without a range (the user alone) has no tool to
   run and no record: the front writes that map (write_own_maps). */
void id_map(struct buf *plan, uint32_t kind, const struct subids *s, unsigned own);

/* The run itself (run-front-run.c): folders, files, the helper, the clean-up; the exit status. */
struct union_mount;
int run_container(struct run *r, struct union_mount *u, const char *helper, int print_plan);

/* The container's cgroup on a cgroup v2 host (run-front-cgroup.c): a transient scope of the user's
   systemd or a child of the delegated subtree the CLI is in, as src/cgroups gives a foreground run
   with no resource flag. cgroup_check, before anything is made: on a host where the TypeScript path
   would do otherwise, hands over; else `wanted` (a scope, with the manager's connection open, or
   `delegated`), or not (no cgroup of its own, no warning).
   cgroup_place, once the container's process exists (its hook's place): -1 on any failure, for
   cgroup_undo then the hand-over. cgroup_remove, after the run: removeGroup's clean-up. */
struct sd_bus;
struct cgroup {
  int wanted, started; /* started: StartTransientUnit answered, or the subtree's hutch-ID made */
  int delegated;       /* place.ts stay(): the group is `name` in the CLI's delegated subtree */
  char *name;          /* hutch-ID */
  char *addresses[2];  /* the user manager's: its bus, systemd's private socket */
  int bus_clients[2], naddresses;
  struct sd_bus *bus;
  char *unit, *description, *dir; /* hutch-ID.scope, its Description, its folder once known */
};
void cgroup_check(struct cgroup *cg, const char *id);
int cgroup_place(struct cgroup *cg, pid_t pid);
void cgroup_remove(struct cgroup *cg);
void cgroup_undo(struct cgroup *cg);

/* -t (run-front-tty.c): the container's pty relayed to the caller's stdio. tty_raw, once the helper
   runs: the caller's terminal raw with -i (tty_restore undoes it, at every way out); tty_take, once
   the container is ready: its master, sized, and the helper's pidfd; tty_relay, once it runs: the relay until the helper
   ends (`w` watched meanwhile), then what the pty holds passed on, all closed; the helper's status. tty_close: closed unread. */
struct tty {
  int master, slave;  /* the slave held so that the output ends with the helper, not the pty */
  int size_from;      /* the caller's terminal whose size the container follows (stdout, else stdin), or -1 */
  int winch;          /* a signalfd of SIGWINCH when size_from is one, else -1 */
  int helper_exit;    /* a pidfd of the helper: readable once it ended */
  int raw;            /* the caller's terminal is in raw mode; `saved` is how it was */
  struct termios saved;
};
/* What the wait on the container watches beside it (launch-rootfs.ts watchDaemon: the union's end):
   once `fd` is readable, `fired(ctx)` says 1 when it ended the container (no longer watched), or 0
   to keep watching; fd -1: nothing. */
struct watch {
  int fd;
  int (*fired)(void *ctx);
  void *ctx;
};
void tty_raw(struct tty *t, const struct run *r);
int tty_take(struct tty *t, pid_t container, pid_t helper);
int tty_relay(struct tty *t, const struct run *r, pid_t helper, struct watch *w);
void tty_close(struct tty *t);
void tty_restore(struct tty *t);

/* slirp4netns (run-front-net.c): on PATH with its cached --help (else handed over), started, stopped. */
struct slirp {
  pid_t pid;
  int exit_fd; /* --exit-fd's other end: closed (by exit or SIGKILL), slirp4netns ends */
  char *api;
};
void check_slirp(struct run *r, const char *cwd);
/* The network started ahead (net/index.ts startNetworkAhead) for an image with slirp4netns: the
   forwarder (native/hutch-forwarder, no port) makes the container's network namespace with tap0 in
   the union holder's user namespace; slirp4netns starts on the forwarder's pid; the container
   joins /proc/FORWARDER/ns/net, after which the forwarder is released (it ends). */
struct forwarder {
  pid_t pid;
  int control; /* fd 3's other end: its close ends the forwarder */
};
int start_forwarder(const char *native, pid_t holder, struct forwarder *f);
void release_forwarder(struct forwarder *f);
void stop_forwarder(struct forwarder *f);
int start_slirp(struct run *r, const char *net_dir, pid_t pid, struct slirp *s);
void stop_slirp(struct slirp *s);

/* The union of an image run through the shared daemon (run-front-union.c), as src/engine/setup/
   storage.ts startUnion and shared-union.ts do it: one Node daemon per user, hutch build, id maps
   and cgroups (its socket RUN/fsd/NAME, NAME sharedPlace's: a run in C and one in Node share it),
   and for each container a C holder (native/fs-holder.c) as root of a new user namespace with the
   run's maps, which mounts the union in a mount namespace of its own and holds both for the
   container's helper to join (/proc/HOLDER/ns/user, /proc/HOLDER/ns/mnt).
   union_check, before anything is made: hands over (fall_back) where the TypeScript path would not
   take the shared daemon or would say something (HUTCH_FS_SHARED=0, the holder or the daemon's
   library not built, /dev/fuse unusable, the socket's path too long, node not on PATH); fills the
   place. The caller (an image run with no joined user namespace, no squashfs lower) reads the
   maps first (read_id_maps). Variables it honours, for the caller's OWN_VARIABLES: HUTCH_FS_SHARED,
   HUTCH_FS_LINGER (the daemon this run starts lingers that long; one that is not a count of seconds
   warns as lingerSetting does), HUTCH_FS_IDLE_MS, HUTCH_FS_PAGES, HUTCH_FS_SHARED_MAX (passed on).
   union_begin, as early as can be: the place's lock, a connection to a listening daemon, or the
   daemon started detached (its Node start, ~50-60 ms, runs meanwhile; the lock is held until it
   listens); then the holder started, waiting for its line (its launch goes on on its own where
   newuidmap and newgidmap write both maps). union_mount: the union of `lowers` (top first: the image's last layer first, each
   with its index) over upper and work at mountpoint (folders that exist, UTF-8 paths): waits for the daemon
   started, sends daemonArgs's line, starts the holder, waits for its "ok"; u->holder is then what
   the container joins. Either returns -1 with u->error said (the daemon's log named where it is
   the daemon's): the caller calls union_stop, undoes the rest and hands over (or says u->error).
   union_stop, at the run's end (or after a -1; more than once is fine): the holder ended as
   storage.ts stopHolder does (SIGTERM, SIGKILL after 5 s; the mount goes with its namespace, the
   daemon drops the session and lingers), every fd closed. */
struct union_layer {
  const char *dir;   /* the layer's tree */
  const char *index; /* its index file (layer-index.ts) */
};
struct union_mount {
  const struct run *r;
  const char *helper;        /* hutch-nsexec */
  char *socket, *lock, *log; /* the place: RUN/fsd/NAME, NAME.lock, NAME.log */
  char *holder_path;         /* INSTALL/native/hutch-fs-holder */
  char *daemon_args[4];      /* process.execPath, entryCommand('fuseDaemon'), NULL */
  int lock_fd;               /* the place's lock while this run starts its daemon, else -1 */
  int conn;                  /* a connection to the listening daemon, else -1 */
  int daemon_ready;          /* the started daemon's ready pipe (read end), else -1 */
  /* The holder's launch (its hutch-nsexec, the sync and failure sockets while under way, on its own
     when the tools write both maps), started by union_begin in fs-holder.c's waiting mode. */
  struct union_launch {
    pid_t helper, child;
    int sync, fail, on_its_own;
  } early;
  int holder_args;           /* the early holder's stdin (its line), else -1 */
  int early_taken;           /* union_holder_early gave its pid: union_mount uses that holder or fails */
  pid_t holder_helper;       /* the holder's hutch-nsexec (signals go to it), else 0 */
  pid_t holder;              /* the holder (host pid), once union_mount succeeded, else 0 */
  int holder_ready;          /* the holder's ready pipe (read end), else -1 */
  pid_t daemon_pid;          /* the daemon serving the mount (its pid file), with its start time (-1: unknown) */
  long long daemon_start;
  char error[1024];
};
void union_check(struct run *r, struct union_mount *u, const char *install, const char *helper);
int union_begin(struct union_mount *u);
int union_mount(struct union_mount *u, const struct union_layer *lowers, int nlowers, const char *upper, const char *work,
                const char *mountpoint);
void union_stop(struct union_mount *u);
/* After union_begin, before union_mount: the holder union_begin started, once its launch is done (its
   user and mount namespaces exist, maps written; the union not mounted yet), for what may join its
   user namespace ahead of the mount (the network's namespace); 0 when there is none (union_mount
   then starts one: u->holder after it). A pid given here is the one union_mount mounts in, or it fails. */
pid_t union_holder_early(struct union_mount *u);
/* After union_check, for a run handed to Node (struct run's ahead): the shared daemon started now
   when none listens, so that its Node start overlaps the CLI's and the monitor's. A waiter of its
   own holds the place's lock until the daemon says it listens, as union_begin's caller would: the
   Node run waits on that lock and connects (connectShared). Nothing else is made; a failure here
   is left to the Node run, which starts the daemon itself and says why. */
void union_start_ahead(struct union_mount *u);

/* The hand-over of a `run` that clipanion reads as detached (run-front.c fall_back; for an image
   the front checked, once the daemon started ahead): Node, forked in a session of its own
   (run-front-detach.c), records the container and becomes its monitor; this process waits in the
   caller's place for its report and exits as it says. */
_Noreturn void detached_run(const char *install, char **words);
/* Once mounted, the union watched as storage.ts rootfsOf's `died` and `served` and launch-rootfs.ts
   watchDaemon use them (a container whose daemon died has no files left: the TypeScript path ends it
   at once, warns "hutch: WHY: the container's files fail with ENOTCONN; ending it", and fails the run
   with FUSE_DAEMON_DIED "container ended: WHY"). union_watch_fd: a pidfd of the holder's helper,
   readable once the holder ended (the caller polls it with the container's; closes it), or -1.
   union_died: NULL while the holder runs and the daemon it was served by still runs, else WHY (the
   holder's end waited for: union_stop then has no holder to stop). */
int union_watch_fd(const struct union_mount *u);
const char *union_died(struct union_mount *u);
/* The holder's helper plan, as launchInUserNamespace makes it: given the mountpoint (startSharedHolder's
   holder, on the connection), or NULL (preheld-holder.ts's, waiting for its line; on its own where
   the tools write both maps). */
void union_holder_plan(const struct union_mount *u, const char *mountpoint, struct buf *plan);
/* The daemon's helper plan, as startDaemon's launchInUserNamespace makes it (detached; its warning
   on a HUTCH_FS_LINGER that is no count of seconds said on stderr). */
void union_daemon_plan(const struct union_mount *u, struct buf *plan);
/* daemonArgs's list as encodeArgsLine sends it to the daemon, newline included (union_mount's). */
char *union_args_line(const struct run *r, const struct union_layer *lowers, int nlowers, const char *upper, const char *work,
                      const char *mountpoint);

#endif
