/*
 * hutch-run-front's run (run-front.h), in the TypeScript path's order (foreground.ts runCommand):
 * RUN/ephemeral/ID made by rename with its lock held, DATA/ephemeral/ID (or RUN/ephemeral/ID/data
 * where the store has no user xattrs) with setup.json, the /etc files, RUN/net/ID16, the helper
 * (the network's files written again between READY and GO, as its hook does), then every folder
 * removed. What it cannot do as the TypeScript path does, it finds out before it makes anything:
 * a stale run's folders to sweep (they may hold an image's marks), a cgroup v2 host where the
 * TypeScript path would place the container otherwise than run-front-cgroup.c does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "run-front.h"
#include "wire.h"

/* foreground.ts makeRunDir's sweep: a folder whose lock is free belongs to a run that was killed;
   its setup may mark an image or volumes, which only the TypeScript path releases. */
static void check_no_stale(const char *parent) {
  DIR *d = opendir(parent);
  if (d == NULL) fall_back("cannot read the runtime folder");
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    char *lock = str_cat(parent, "/", str_cat(e->d_name, "/lock", ""));
    int fd = open(lock, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue; /* being made or removed by its owner */
    if (fd < 0) fall_back("a run's lock that cannot be opened"); /* trylock.ts throws: its words */
    int free_lock = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    if (free_lock) fall_back("a killed run's folders to sweep");
  }
  closedir(d);
}

/* storage.ts ephemeralDataDir: DATA/ephemeral/ID where the store takes user xattrs (fs-probe.ts,
   run-front-conf.c store_user_xattrs: its cache, or probed and cached), else RUN/ephemeral/ID/data. */
static char *data_dir(const struct run *r, const char *run_dir) {
  if (mkdir_p(r->data, 0700) != 0) fall_back("cannot make the data folder");
  if (store_user_xattrs(r->data)) return str_cat(r->data, "/ephemeral/", r->id);
  /* setup.ts createSetup: an image's writable layer needs them (requireUpperFs words it) */
  if (r->image.ref != NULL) fall_back("an image run on a store without user xattrs");
  return str_cat(run_dir, "/data", "");
}

/* A flag's values joined by spaces after `key` (`search a b`), a line. */
static void flag_line(struct buf *out, const char *key, const struct etc_flag *f) {
  buf_add(out, key, strlen(key));
  for (int i = 0; i < f->n; i++) buf_add(out, " ", 1), buf_add(out, f->v[i], strlen(f->v[i]));
  buf_add(out, "\n", 1);
}

/* net/resolv.ts resolvConf: the host's non-loopback servers, search, options; the network's
   resolver (slirp4netns' 10.0.2.3, or NULL) first when the host had a loopback server or none kept.
   `r`: --dns, --dns-search and --dns-option, each replacing what the host says when given (no
   resolver then before --dns's servers); NULL: none (writeEtcFiles' first file). */
static char *resolv_conf(const char *host, const char *resolver, const struct run *r) {
  struct buf servers = {0}, search = {0}, options = {0};
  int loopback = 0;
  char *text = str_cat(host, "", ""), *save = NULL;
  for (const char *c = text; *c; c++)
    if ((unsigned char)*c >= 0x80) fall_back("a non-ASCII resolv.conf (JavaScript's white space)");
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    line[strcspn(line, "#;")] = '\0';
    char *words[64];
    int n = 0;
    for (char *w = strtok(line, " \t\r\f\v"); w != NULL && n < 64; w = strtok(NULL, " \t\r\f\v")) words[n++] = w;
    if (n == 64) fall_back("resolv.conf: a line too long");
    if (n >= 2 && strcmp(words[0], "nameserver") == 0) {
      if (strncmp(words[1], "127.", 4) == 0 || strcmp(words[1], "::1") == 0) {
        loopback = 1;
        continue;
      }
      buf_add(&servers, "nameserver ", 11), buf_add(&servers, words[1], strlen(words[1])), buf_add(&servers, "\n", 1);
    } else if (n >= 2 && (strcmp(words[0], "search") == 0 || strcmp(words[0], "domain") == 0)) {
      search.len = 0;
      buf_add(&search, "search", 6);
      for (int i = 1; i < n; i++) buf_add(&search, " ", 1), buf_add(&search, words[i], strlen(words[i]));
      buf_add(&search, "\n", 1);
    } else if (n >= 1 && strcmp(words[0], "options") == 0) {
      for (int i = 1; i < n; i++) buf_add(&options, " ", 1), buf_add(&options, words[i], strlen(words[i]));
    }
  }
  struct buf out = {0};
  if (r != NULL && r->dns_search.n > 0) flag_line(&out, "search", &r->dns_search);
  else buf_add(&out, search.p, search.len);
  if (r != NULL && r->dns.n > 0) {
    for (int i = 0; i < r->dns.n; i++) buf_add(&out, "nameserver ", 11), buf_add(&out, r->dns.v[i], strlen(r->dns.v[i])), buf_add(&out, "\n", 1);
  } else {
    if (resolver != NULL && (servers.len == 0 || loopback))
      buf_add(&out, "nameserver ", 11), buf_add(&out, resolver, strlen(resolver)), buf_add(&out, "\n", 1);
    buf_add(&out, servers.p, servers.len);
  }
  if (r != NULL && r->dns_option.n > 0) flag_line(&out, "options", &r->dns_option);
  else if (options.len > 0) buf_add(&out, "options", 7), buf_add(&out, options.p, options.len), buf_add(&out, "\n", 1);
  if (out.len == 0) buf_add(&out, "\n", 1);
  return buf_cstr(&out);
}

/* The host's file as Node reads it (missing: empty); one it cannot read as text is the TypeScript path's. */
static char *host_text(const char *path) {
  struct buf b = {0};
  int got = read_text(path, &b);
  if (got == -1) return str_cat("", "", "");
  if (got != 0 || memchr(b.p, '\0', b.len) != NULL) fall_back("a host file it cannot read as text");
  char *s = buf_cstr(&b);
  if (!utf8_valid((unsigned char *)s)) fall_back("a host file is not UTF-8");
  return s;
}

/* net/resolv.ts hostsFile: the lines every generated hosts file starts with. */
static const char LOCALHOST_LINES[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

/* net/etc.ts networkEtcFiles for none, host and slirp4netns (its resolver 10.0.2.3, the container's
   10.0.2.100, no host.containers.internal without allow_host_loopback): --dns, --dns-search and
   --dns-option in resolv.conf (the host's own file under --network host when none is given), each
   --add-host a line `IP\tNAME` of hosts, after the host's lines or the two localhost ones. */
static void network_files(const struct run *r, const char *hostname, char **resolv, char **hosts) {
  char *host_resolv = host_text("/etc/resolv.conf");
  struct buf extra = {0};
  for (int i = 0; i < r->add_host.n; i++) {
    const char *v = r->add_host.v[i], *colon = strchr(v, ':');
    buf_add(&extra, colon + 1, strlen(colon + 1)), buf_add(&extra, "\t", 1), buf_add(&extra, v, (size_t)(colon - v)), buf_add(&extra, "\n", 1);
  }
  char *lines = buf_cstr(&extra);
  if (r->host_network) {
    *resolv = r->dns.n + r->dns_search.n + r->dns_option.n == 0 ? host_resolv : resolv_conf(host_resolv, NULL, r);
    char *h = host_text("/etc/hosts");
    size_t n = strlen(h);
    while (n > 0 && strchr(" \t\n\r\f\v", h[n - 1]) != NULL) n--; /* trimEnd (ASCII white space; other is the TypeScript path's) */
    if (n > 0 && (unsigned char)h[n - 1] >= 0x80) fall_back("/etc/hosts ends in non-ASCII (white space trimEnd would take)");
    h[n] = '\0';
    *hosts = str_cat(h, "\n", lines);
  } else {
    *resolv = resolv_conf(host_resolv, r->slirp ? "10.0.2.3" : NULL, r);
    *hosts = str_cat(str_cat(LOCALHOST_LINES, lines, ""),
                     r->slirp ? "10.0.2.100\t" : "127.0.1.1\t", str_cat(hostname, "\n", ""));
  }
}

/* A string of setup.json: one with nothing JSON escapes, else the TypeScript path's. */
static const char *json_plain(const char *s) {
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    if (*c < 0x20 || *c == '"' || *c == '\\' || *c == 0x7f) fall_back("a --root, image, --entrypoint, DNS or host flag, or port name that JSON would escape");
  return s;
}

static void add(struct buf *b, const char *s) {
  buf_add(b, s, strlen(s));
}

/* setup.ts ContainerSetup's image: its id, its layers (resolve.ts describeImage), the driver, exposedPorts. */
static void image_json(const struct image *im, struct buf *json) {
  add(json, ",\"image\":{\"id\":\""), add(json, im->id), add(json, "\",\"layers\":[");
  for (int i = 0; i < im->nlayers; i++) {
    add(json, i > 0 ? ",{\"diffId\":\"" : "{\"diffId\":\""), add(json, im->layers[i].diff_id);
    add(json, "\",\"dir\":\""), add(json, json_plain(im->layers[i].dir));
    add(json, "\",\"indexFile\":\""), add(json, im->layers[i].index), add(json, "\"}");
  }
  add(json, "],\"driver\":\"fuse\",\"exposed\":[");
  for (int i = 0; i < im->nexposed; i++) add(json, i > 0 ? ",\"" : "\""), add(json, json_plain(im->exposed[i])), add(json, "\"");
  add(json, "]}");
}

/* setup.ts withMounts' save (JSON.stringify of the setup), made before anything is made: a string
   JSON would escape is handed over then. */
static char *setup_text(const struct run *r) {
  const char *root = r->root_flag, *flag = r->network_flag, *image = r->image.ref; /* flag: none, host, slirp4netns or NULL: the default */
  const char *entry = r->entrypoint;
  const char *network = r->host_network ? "host\"" : r->slirp ? "slirp4netns\",\"portHandler\":\"rootlesskit\",\"allowHostLoopback\":false,"
      "\"mtu\":65520,\"cidr\":\"10.0.2.0/24\",\"enableIPv6\":false" : "none\"";
  struct buf json = {0};
  const char *parts[] = {"{\"flags\":{", image != NULL ? "\"image\":\"" : "", image != NULL ? json_plain(image) : "", image != NULL ? "\"," : "",
      root != NULL ? "\"root\":\"" : "", root != NULL ? json_plain(root) : "", root != NULL ? "\"," : "",
      "\"pull\":\"", r->pull != NULL ? r->pull : "missing", "\",", entry != NULL ? "\"entrypoint\":\"" : "", entry != NULL ? json_plain(entry) : "", entry != NULL ? "\"," : "",
      flag != NULL ? "\"networkMode\":\"" : "", flag != NULL ? flag : "", flag != NULL ? "\"," : "", "\"publish\":[],\"publishAll\":false", NULL};
  for (const char *const *p = parts; *p != NULL; p++) add(&json, *p);
  const struct { const char *key; const struct etc_flag *f; } etc[] = {
      {",\"dns\":[", &r->dns}, {",\"dnsSearch\":[", &r->dns_search}, {",\"dnsOption\":[", &r->dns_option}, {",\"addHost\":[", &r->add_host}};
  for (int e = 0; e < 4; e++) { /* each flag's values as JSON strings, in order */
    add(&json, etc[e].key);
    for (int i = 0; i < etc[e].f->n; i++) add(&json, i > 0 ? ",\"" : "\""), add(&json, json_plain(etc[e].f->v[i])), add(&json, "\"");
    add(&json, "]");
  }
  add(&json, ",\"blkioWeightDevice\":[],\"deviceReadBps\":[],\"deviceWriteBps\":[],\"deviceReadIops\":[],"
             "\"deviceWriteIops\":[],\"mounts\":[]},\"network\":{\"kind\":\"");
  add(&json, network), add(&json, "}");
  if (image != NULL) image_json(&r->image, &json);
  if (r->nvolumes > 0) add(&json, ",\"volumes\":[]"); /* -v: resolveMounts' names, none for a host path */
  add(&json, "}\n");
  return buf_cstr(&json);
}

static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d != NULL) {
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char *path = str_cat(dir, "/", e->d_name);
      struct stat st; /* d_type is DT_UNKNOWN on some filesystems (NFS, XFS without ftype) */
      int dir = e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && lstat(path, &st) == 0 && S_ISDIR(st.st_mode));
      if (dir) remove_tree(path);
      else unlink(path);
      free(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

struct made {
  char *run_dir, *data_dir, *net_dir;
  int lock;
  struct union_mount *u; /* an image's union, once begun */
  struct forwarder *forwarder; /* an image's network namespace made ahead (slirp4netns) */
  struct slirp *slirp;         /* slirp4netns on it */
  const struct run *marked; /* the image marked used by this run */
};

/* The clean-up, in the TypeScript path's order: the union's holder, the network's folder, the
   image's mark (releaseSetup), the folders, the lock last. */
static void clean_up(struct made *m) {
  if (m->slirp) stop_slirp(m->slirp);
  if (m->forwarder) stop_forwarder(m->forwarder);
  if (m->u) union_stop(m->u);
  if (m->net_dir) remove_tree(m->net_dir);
  if (m->marked) unmark_image(m->marked);
  if (m->run_dir) remove_tree(m->run_dir);
  if (m->data_dir) remove_tree(m->data_dir);
  if (m->lock >= 0) close(m->lock);
}

/* What the TypeScript path would have said (or done) instead: it runs again there, from scratch. */
static _Noreturn void undo_and_fall_back(struct made *m, const char *why) {
  clean_up(m);
  fall_back(why);
}

/* tree-layer.ts treeLayer: the tree is bound as it is when it has every mount target hutch needs
   (missingTargets: the system mounts' not beneath another, in-root.ts existsInRoot; a symlink on
   the way, /etc included, is the TypeScript path's to resolve) and the user may write it; else the
   container runs on a writable layer over it, the union's (Node.js). */
static void check_tree(const struct run *r) {
  for (const struct system_mount *m = SYSTEM_MOUNTS; m->target != NULL; m++) {
    if (in_system_mount(m->target)) continue; /* /dev/pts: made in /dev's tmpfs */
    char *path = str_cat(r->rootfs, m->target, ""), *component = path + strlen(r->rootfs);
    do { /* each component: /etc, then /etc/hosts */
      component = strchr(component + 1, '/');
      if (component != NULL) *component = '\0';
      struct stat st;
      if (lstat(path, &st) != 0) fall_back("the tree lacks a mount target (its writable layer is the union's)");
      if (S_ISLNK(st.st_mode)) fall_back("a mount target in the tree is a symlink");
      if (component != NULL) *component = '/';
    } while (component != NULL);
    free(path);
  }
  if (access(r->rootfs, W_OK) != 0) fall_back("a tree the user may not write (its writable layer is the union's)");
}

/* net/index.ts startNetworkAhead: the forwarder's namespace in `holder`'s user namespace, slirp4netns ready on it. */
static int network_ahead(struct run *r, struct made *m, pid_t holder) {
  if (start_forwarder(r->native, holder, m->forwarder) != 0) return -1;
  return start_slirp(r, m->net_dir, m->forwarder->pid, m->slirp);
}

/* storage.ts startUnion's folders (0755: the union's owner inside reads them) and its lowers, top first. */
static int mount_union(struct run *r, struct made *m) {
  char *upper = str_cat(m->data_dir, "/upper", ""), *work = str_cat(m->data_dir, "/work", "");
  if (mkdir_p(upper, 0755) != 0 || mkdir_p(work, 0755) != 0 || mkdir_p(r->rootfs, 0755) != 0) {
    snprintf(m->u->error, sizeof m->u->error, "cannot make the union's folders: %s", strerror(errno));
    return -1;
  }
  struct union_layer *lowers = calloc((size_t)r->image.nlayers + 1, sizeof *lowers);
  if (lowers == NULL) return -1;
  for (int i = 0; i < r->image.nlayers; i++) {
    const struct image_layer *l = &r->image.layers[r->image.nlayers - 1 - i];
    lowers[i] = (struct union_layer){l->dir, l->index};
  }
  int mounted = union_mount(m->u, lowers, r->image.nlayers, upper, work, r->rootfs);
  free(lowers);
  if (mounted == 0) r->holder = m->u->holder;
  return mounted;
}

/* launch-rootfs.ts watchDaemon's hook, fired when the union's holder ended: a union gone under the
   container (its files fail with ENOTCONN) ends it at once, said as the TypeScript path warns it
   (w->why: union_died's words, for the run's failure); 1 when it did. */
struct union_watch {
  struct union_mount *u;
  pid_t container;
  const char *why;
};
static int union_gone(void *ctx) {
  struct union_watch *w = ctx;
  if ((w->why = union_died(w->u)) == NULL) return 0;
  fprintf(stderr, "hutch: %s: the container's files fail with ENOTCONN; ending it\n", w->why);
  if (kill(w->container, SIGKILL) != 0 && errno != ESRCH)
    fprintf(stderr, "hutch: cannot end the container (pid %d): %s\n", (int)w->container, strerrorname_np(errno));
  return 1;
}

/* The helper waited for, `w` watched meanwhile (without -t; tty_relay watches it with -t). */
static int wait_watching(pid_t helper, struct watch *w) {
  int exited = w->fd >= 0 ? (int)syscall(SYS_pidfd_open, helper, 0) : -1;
  while (exited >= 0) {
    struct pollfd fds[2] = {{.fd = exited, .events = POLLIN}, {.fd = w->fd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue; /* a signal relayed to the container */
      break;
    }
    if (fds[0].revents != 0 || (fds[1].revents != 0 && w->fired(w->ctx))) break;
  }
  if (exited >= 0) close(exited);
  return wait_status(helper);
}

int run_container(struct run *r, struct union_mount *u, const char *helper, int print_plan) {
  int image = r->image.ref != NULL;
  if (!image && strcmp(r->rootfs, "/") == 0) fall_back("the host's root as --rootfs");
  if (!image) check_tree(r);
  char *parent = str_cat(r->run, "/ephemeral", "");
  if (mkdir_p(parent, 0700) != 0) fall_back("cannot make the runtime folder");
  check_no_stale(parent);
  struct made m = {.lock = -1};
  char *run_dir = str_cat(parent, "/", r->id);
  char *data = data_dir(r, run_dir);
  const char *hostname = r->hostname;
  char *resolv, *hosts, *first_resolv = resolv_conf(host_text("/etc/resolv.conf"), NULL, NULL);
  network_files(r, hostname, &resolv, &hosts);
  char *setup = setup_text(r);
  r->etc_dir = run_dir;
  struct buf plan = {0}; /* made first: a string that is not UTF-8 is handed over before anything is made */
  build_run_plan(r, &plan);
  /* The scope's manager asked last of what can be known before anything is made (none for a plan:
     the TypeScript path prints it before its hooks). */
  struct cgroup cg = {0};
  if (!print_plan) cgroup_check(&cg, r->id);
  /* cgroups.ts: the network started ahead (forwarder, slirp4netns) joins the container's group too */
  if (cg.wanted && image && r->slirp) fall_back("an image's network started ahead in a cgroup of its own");
  /* Made by rename, its lock inside, so that a sweep never takes a folder being made. */
  char *temp = str_cat(parent, "/.new-", r->id);
  if (mkdir(temp, 0700) != 0) fall_back("cannot make the run's folder");
  m.lock = open(str_cat(temp, "/lock", ""), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (m.lock < 0 || flock(m.lock, LOCK_EX | LOCK_NB) != 0 || rename(temp, run_dir) != 0) {
    if (m.lock >= 0) close(m.lock);
    remove_tree(temp);
    fall_back("cannot lock the run's folder");
  }
  m.run_dir = run_dir;
  /* The union's daemon started (or reached) now: its Node start runs while the rest is made. */
  if (image) {
    m.u = u;
    if (union_begin(u) != 0) undo_and_fall_back(&m, u->error);
  }
  int ok = 1; /* writeEtcFiles: the hosts file as without a network; the hook writes the network's */
  ok &= write_text(str_cat(run_dir, "/hosts", ""), str_cat(LOCALHOST_LINES, "127.0.1.1\t", str_cat(hostname, "\n", "")), O_CREAT | O_TRUNC) == 0;
  ok &= write_text(str_cat(run_dir, "/hostname", ""), str_cat(hostname, "\n", ""), O_CREAT | O_TRUNC) == 0;
  ok &= write_text(str_cat(run_dir, "/resolv.conf", ""), first_resolv, O_CREAT | O_TRUNC) == 0;
  if (!ok) undo_and_fall_back(&m, "cannot write the /etc files");
  if (mkdir_p(data, 0700) != 0) undo_and_fall_back(&m, "cannot make the data folder");
  m.data_dir = data;
  if (image && mark_image(r) != 0) undo_and_fall_back(&m, "cannot mark the image used"); /* setup.ts openImage */
  if (image) m.marked = r;
  /* synced where it marks an image, not for a --rootfs run (it marks nothing) */
  if (atomic_write(str_cat(data, "/setup.json", ""), setup, image) != 0) undo_and_fall_back(&m, "cannot write setup.json");
  char id16[17];
  snprintf(id16, sizeof id16, "%.16s", r->id);
  m.net_dir = str_cat(r->run, "/net/", id16);
  if (mkdir_p(m.net_dir, 0700) != 0) undo_and_fall_back(&m, "cannot make the network's folder");
  struct forwarder forwarder = {.pid = -1, .control = -1};
  struct slirp slirp = {.pid = -1, .exit_fd = -1};
  if (image) {
    /* network.ts ahead: the container's network namespace made in the holder's user namespace as soon
       as that exists (union_holder_early), slirp4netns ready on it, while the daemon starts and mounts;
       else once the union is mounted */
    if (r->slirp) m.forwarder = &forwarder, m.slirp = &slirp;
    const char *ahead_failed = "the network's namespace made ahead failed (the TypeScript path's to say)";
    pid_t early = r->slirp ? union_holder_early(u) : 0;
    if (early > 0 && network_ahead(r, &m, early) != 0) undo_and_fall_back(&m, ahead_failed);
    if (mount_union(r, &m) != 0) undo_and_fall_back(&m, u->error);
    if (r->slirp && early <= 0 && network_ahead(r, &m, r->holder) != 0) undo_and_fall_back(&m, ahead_failed);
    if (r->slirp) r->netns_holder = forwarder.pid;
    /* the plan again, now that it knows the holder (and the network's namespace) it joins */
    plan.len = 0;
    build_run_plan(r, &plan);
  }
  if (print_plan) {
    int wrote = write_full(1, plan.p, plan.len);
    clean_up(&m);
    return wrote == 0 ? 0 : 125;
  }
  int sync, fail;
  const char *why = "the helper failed before the command ran";
  /* launch.ts: stdio all 'ignore' with a terminal; else foreground.ts's stdin, 'inherit' with -i */
  /* nsexec.ts startHelper: with --init the helper is the container's PID 1, named hutch-init */
  pid_t pid = helper_spawn(helper, r->init ? "hutch-init" : helper, &plan, r->tty ? 3 : !r->interactive, &sync, &fail);
  struct tty tty;
  tty_raw(&tty, r);
  int ahead = image && r->slirp; /* the network made ahead: started already */
  unsigned char msg[5];
  if (read_full(sync, msg, 5) != 0 || msg[0] != SYNC_CLONED) goto failed; /* the tools wrote their maps */
  pid_t container; /* the container's process (host pid namespace), as launch.ts's helper.cloned() */
  memcpy(&container, msg + 1, 4);
  if (!image && write_own_maps(r, container) != 0) goto failed; /* launch.ts writeIdMaps: the user alone's */
  msg[0] = SYNC_MAPPED;
  if (write_full(sync, msg, 1) != 0 || read_full(sync, msg, 1) != 0 || msg[0] != SYNC_READY) goto failed;
  if (r->tty && tty_take(&tty, container, pid) != 0) goto failed; /* launch.ts: before the hooks */
  /* cgroups.ts hook (before the network's): the container's process in hutch-ID.scope/container,
     or SUBTREE/hutch-ID/container. */
  if (cg.wanted && cgroup_place(&cg, container) != 0) {
    why = cg.delegated ? "the container's cgroup in the delegated subtree failed (the TypeScript path's to say)"
                       : "the container's systemd scope failed (the TypeScript path's to say or degrade)";
    goto failed;
  }
  /* network.ts hook: slirp4netns on the container's tap0 (the helper made it), ready; then the
     files again, rewritten in place (the container has them bound), and the ports. */
  if (r->slirp && !ahead && start_slirp(r, m.net_dir, container, &slirp) != 0) goto failed;
  if (ahead) release_forwarder(&forwarder); /* joined: the container holds its namespace now */
  ok &= write_text(str_cat(run_dir, "/resolv.conf", ""), resolv, O_CREAT | O_TRUNC) == 0;
  ok &= write_text(str_cat(run_dir, "/hosts", ""), hosts, O_CREAT | O_TRUNC) == 0;
  ok &= write_text(str_cat(run_dir, "/ports.json", ""), "[]\n", O_CREAT | O_TRUNC) == 0;
  if (!ok) goto failed;
  if (helper_early()) { /* launch.ts runContainer: removed unstarted, 128+N */
    kill(pid, SIGKILL);
    wait_status(pid);
    tty_close(&tty), tty_restore(&tty);
    stop_slirp(&slirp);
    cgroup_remove(&cg);
    clean_up(&m);
    return 128 + helper_early();
  }
  helper_go(pid, sync);
  unsigned char failure[12];
  if (read_full(fail, failure, sizeof failure) == 0) goto failed;
  struct union_watch gone = {.u = u, .container = container};
  struct watch watch = {.fd = image ? union_watch_fd(u) : -1, .fired = union_gone, .ctx = &gone};
  int code = r->tty ? tty_relay(&tty, r, pid, &watch) : wait_watching(pid, &watch);
  if (watch.fd >= 0) close(watch.fd);
  /* watchDaemon's failure(): the run fails naming the union's end (the container often ends first) */
  const char *died = gone.why != NULL || !image ? gone.why : union_died(u);
  if (died != NULL) {
    fprintf(stderr, "hutch: container ended: %s\nhint: see the daemon's message above (or monitor.log); the upper layer keeps "
                    "everything that was synced\n", died);
    code = 125;
  }
  /* The clean-up's order: what the hooks added last goes first (the network's, then the cgroup's). */
  stop_slirp(&slirp);
  cgroup_remove(&cg);
  clean_up(&m);
  return code;
failed:
  kill(pid, SIGKILL);
  wait_status(pid);
  tty_close(&tty), tty_restore(&tty);
  stop_slirp(&slirp);
  cgroup_undo(&cg);
  undo_and_fall_back(&m, why);
}
