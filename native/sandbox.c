/*
 * hutch-sandbox: `hutch sandbox FLAGS -- COMMAND` without a Node.js start (bin/hutch execs it for
 * `hutch sandbox`). Its flags are src/sandbox/argv.ts's; what it does not handle (another flag,
 * --help, any error) it hands to the TypeScript path with the same words (fall_back).
 * HUTCH_SANDBOX_PRINT_PLAN=1 writes the plan to stdout instead of running it, as the TypeScript
 * path does, for the test that compares the two.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.h"

static char **all_words; /* argv: hutch-sandbox sandbox WORDS... */
static char *install;    /* the package's folder: native/.. */

_Noreturn void fall_back(const char *why) {
  if (no_node("HUTCH_SANDBOX_NO_NODE")) {
    fprintf(stderr, "hutch-sandbox: would hand over to node: %s\n", why);
    exit(99);
  }
  restore_data();
  exec_node(install, all_words);
}

static const char *const SOCKET_NAMES[SOCKET_KINDS] = {"wayland", "x11", "pulseaudio", "pipewire", "dbus"};
static const struct {
  const char *flag;
  int values;
} FLAGS[] = {{"--bind", 2}, {"--bind-try", 2}, {"--ro-bind", 2}, {"--ro-bind-try", 2}, {"--dev-bind", 2},
             {"--dev-bind-try", 2}, {"--home", 1}, {"--share-net", 0}, {"--chdir", 1}, {"--setenv", 2},
             {"--unsetenv", 1}, {"--clearenv", 0}, {"--die-with-parent", 0}, {"--socket", 1}, {"--device", 1}, {"--tmpfs", 1},
             {"--dir", 1}, {"--symlink", 2}, {"--perms", 1}, {"--file", 2}, {"--bind-data", 2}, {"--ro-bind-data", 2},
             {"--size", 1}, {"--chmod", 2}, {"--args", 1}, {"--unshare-all", 0}, {"--unshare-user", 0},
             {"--unshare-user-try", 0}, {"--unshare-ipc", 0}, {"--unshare-pid", 0}, {"--unshare-uts", 0}, {"--unshare-net", 0},
             {"--unshare-cgroup", 0}, {"--unshare-cgroup-try", 0}, {"--proc", 1}, {"--dev", 1}, {"--mqueue", 1},
             {"--new-session", 0}, {"--hostname", 1}, {"--remount-ro", 1}, {"--argv0", 1}, {"--info-fd", 1}, {"--json-status-fd", 1}};

static void add_socket(struct options *o, const char *name) {
  for (int k = 0; k < SOCKET_KINDS; k++) {
    if (strcmp(SOCKET_NAMES[k], name) != 0) continue;
    for (int i = 0; i < o->nsockets; i++)
      if (o->sockets[i] == k) return;
    o->sockets[o->nsockets++] = k;
    return;
  }
  fall_back("an unknown --socket");
}

/* --perms OCTAL, --chmod OCTAL PATH (argv.ts octal): octal digits, at most 07777; anything else is Node's to word. */
static int octal(const char *s) {
  size_t n = strspn(s, "01234567");
  if (n == 0 || n > 5 || s[n] != '\0') fall_back("an invalid mode");
  long mode = strtol(s, NULL, 8);
  if (mode > 07777) fall_back("an invalid mode");
  return (int)mode;
}

/* --size BYTES (argv.ts size): decimal digits, 1 to 2^63-1; written back without leading zeros. */
static const char *tmpfs_size(const char *s) {
  size_t n = strspn(s, "0123456789");
  if (n == 0 || n > 20 || s[n] != '\0') fall_back("an invalid --size");
  errno = 0;
  unsigned long long bytes = strtoull(s, NULL, 10);
  if (errno != 0 || bytes == 0 || bytes > 0x7fffffffffffffffULL) fall_back("an invalid --size");
  char out[24];
  snprintf(out, sizeof out, "%llu", bytes);
  return str_cat(out, "", "");
}

/* The FD of a data flag (argv.ts fdNumber): digits, 3 or more, not taken by an earlier flag. */
static int fd_number(const struct options *o, const char *s) {
  size_t n = strspn(s, "0123456789");
  if (n == 0 || n > 9 || s[n] != '\0') fall_back("an invalid data FD");
  int fd = atoi(s);
  for (int i = 0; i < o->nbinds; i++)
    if (o->binds[i].kind >= BIND_FILE && o->binds[i].fd == fd) fall_back("a data FD given twice");
  if (fd == o->info_fd || fd == o->json_fd) fall_back("an FD given twice");
  if (fd < 3 || fd_was_read(fd)) fall_back("a data FD of 0-2, or one --args read");
  return fd;
}

/* One flag and its values (argv.ts apply); `perms` and `size` a --perms and --size right before it, or -1 and NULL. */
static void namespace_flag(struct options *o, const char *flag, const char *dst);

static void apply(struct options *o, int f, char **v, int perms, const char *size) {
  const char *flag = FLAGS[f].flag;
  struct bind *b = &o->binds[o->nbinds];
  *b = (struct bind){.mode = -1}; /* grow's realloc leaves the slot as it was */
  if (f < 6) *b = (struct bind){.kind = (enum bind_kind)(f / 2), .source = v[0], .destination = v[1], .optional = f % 2, .mode = -1};
  else if (strcmp(flag, "--file") == 0) *b = (struct bind){.kind = BIND_FILE, .destination = v[1], .mode = perms, .fd = fd_number(o, v[0])};
  else if (strcmp(flag, "--bind-data") == 0) *b = (struct bind){.kind = BIND_DATA, .destination = v[1], .mode = perms, .fd = fd_number(o, v[0])};
  else if (strcmp(flag, "--ro-bind-data") == 0) *b = (struct bind){.kind = BIND_RO_DATA, .destination = v[1], .mode = perms, .fd = fd_number(o, v[0])};
  else if (strcmp(flag, "--tmpfs") == 0) *b = (struct bind){.kind = BIND_TMPFS, .destination = v[0], .mode = perms, .size = size};
  else if (strcmp(flag, "--dir") == 0) *b = (struct bind){.kind = BIND_DIR, .destination = v[0], .mode = perms};
  else if (strcmp(flag, "--symlink") == 0) *b = (struct bind){.kind = BIND_SYMLINK, .source = v[0], .destination = v[1], .mode = -1};
  else if (strcmp(flag, "--mqueue") == 0) *b = (struct bind){.kind = BIND_MQUEUE, .destination = v[0], .mode = -1};
  if (b->destination != NULL) {
    o->nbinds++;
    return;
  }
  else if (strcmp(flag, "--home") == 0) o->home = v[0];
  else if (strcmp(flag, "--share-net") == 0) o->share_net = 1;
  else if (strcmp(flag, "--chdir") == 0) o->chdir = v[0];
  else if (strcmp(flag, "--setenv") == 0) o->setenv[2 * o->nsetenv] = v[0], o->setenv[2 * o->nsetenv++ + 1] = v[1];
  else if (strcmp(flag, "--unsetenv") == 0) o->unsetenv[o->nunsetenv++] = v[0];
  else if (strcmp(flag, "--clearenv") == 0) o->clearenv = 1;
  else if (strcmp(flag, "--die-with-parent") == 0) o->die_with_parent = 1;
  else if (strcmp(flag, "--chmod") == 0) o->chmods[o->nchmods++] = (struct chmod){octal(v[0]), v[1]};
  else if (strcmp(flag, "--socket") == 0) add_socket(o, v[0]);
  else if (strcmp(flag, "--hostname") == 0) o->hostname = v[0];
  else if (strcmp(flag, "--argv0") == 0) o->argv0 = v[0];
  else if (strcmp(flag, "--info-fd") == 0) o->info_fd = fd_number(o, v[0]);
  else if (strcmp(flag, "--json-status-fd") == 0) o->json_fd = fd_number(o, v[0]);
  else if (strcmp(flag, "--remount-ro") == 0) o->remount_ro[o->nremount_ro++] = v[0];
  else if (strcmp(flag, "--device") != 0) namespace_flag(o, flag, v[0]);
  else if (strcmp(v[0], "dri") == 0) o->dri = 1;
  else fall_back("an unknown --device");
}

/* argv.ts namespaceFlag: what hutch does always is accepted; a cgroup namespace when asked;
   --proc and --dev elsewhere than /proc and /dev are the TypeScript path's to refuse. */
static void namespace_flag(struct options *o, const char *flag, const char *dst) {
  if (strcmp(flag, "--unshare-all") == 0 || strcmp(flag, "--unshare-net") == 0) o->share_net = 0;
  if (strcmp(flag, "--unshare-all") == 0 || strncmp(flag, "--unshare-cgroup", 16) == 0) o->unshare_cgroup = 1;
  const char *at = strcmp(flag, "--proc") == 0 ? "/proc" : strcmp(flag, "--dev") == 0 ? "/dev" : NULL;
  if (at != NULL && (dst[0] != '/' || strcmp(path_resolve("/", dst), at) != 0)) fall_back("--proc or --dev elsewhere");
}

/* The option arrays hold one entry a word at most: `n` words now (an --args spliced more in). */
static void grow(struct options *o, int n) {
  o->binds = realloc(o->binds, sizeof(struct bind) * ((size_t)n + 1));
  o->setenv = realloc(o->setenv, sizeof(char *) * (2 * (size_t)n + 1));
  o->unsetenv = realloc(o->unsetenv, sizeof(char *) * ((size_t)n + 1));
  o->chmods = realloc(o->chmods, sizeof(struct chmod) * ((size_t)n + 1));
  o->remount_ro = realloc(o->remount_ro, sizeof(char *) * ((size_t)n + 1));
  if (!o->binds || !o->setenv || !o->unsetenv || !o->chmods || !o->remount_ro) fall_back("out of memory");
}

/* argv.ts parseSandboxArgs: flags while a word starts with "--" (not "--" itself), then the command. */
void parse_options(char **words, int n, struct options *o) {
  grow(o, n);
  int i = 0, perms = -1, args_end = 0; /* words[..args_end) came from an --args FD */
  const char *size = NULL;
  while (i < n && strcmp(words[i], "--") != 0 && strncmp(words[i], "--", 2) == 0) {
    int f = 0, count = (int)(sizeof FLAGS / sizeof FLAGS[0]);
    while (f < count && strcmp(FLAGS[f].flag, words[i]) != 0) f++;
    if (f == count) fall_back("a flag it does not know");
    if (i + 1 + FLAGS[f].values > n) fall_back("a flag without its values");
    if (i < args_end && (strcmp(words[i], "--args") == 0 || i + 1 + FLAGS[f].values > args_end))
      fall_back("--args holds --args, or ends within a flag");
    if (strcmp(words[i], "--args") == 0) {
      words = splice_args(words, &n, i, &args_end);
      grow(o, n);
      continue;
    }
    int is_perms = strcmp(words[i], "--perms") == 0, is_size = strcmp(words[i], "--size") == 0;
    int tmpfs = strcmp(words[i], "--tmpfs") == 0;
    int takes = strcmp(words[i], "--dir") == 0 || tmpfs || strcmp(words[i], "--file") == 0 || strstr(words[i], "bind-data") != NULL;
    /* argv.ts checkPending: a modifier given twice, or before a flag it does not apply to */
    if (perms >= 0 && (is_perms || (!is_size && !takes))) fall_back("a --perms not before a flag it applies to");
    if (size != NULL && (is_size || (!is_perms && !tmpfs))) fall_back("a --size not before --tmpfs");
    if (is_perms) perms = octal(words[i + 1]);
    else if (is_size) size = tmpfs_size(words[i + 1]);
    else apply(o, f, words + i + 1, perms, size), perms = -1, size = NULL;
    i += 1 + FLAGS[f].values;
  }
  if (i < args_end) fall_back("a word of --args that is not a flag");
  if (perms >= 0 || size != NULL) fall_back("a --perms or --size not before a flag it applies to");
  if (i < n && strcmp(words[i], "--") == 0) i++;
  if (i == n) fall_back("no command");
  o->args = words + i;
}

/* paths.ts hutchPaths().run + /sandbox-root (made, 0700): the tmpfs root's mount point. */
static char *sandbox_root(const struct env *host) {
  const char *root = env_get(host, "HUTCH_ROOT"), *xdg = env_get(host, "XDG_RUNTIME_DIR");
  char *run;
  if (root != NULL && *root != '\0') {
    if (root[0] != '/' || !private_dir(root)) fall_back("HUTCH_ROOT is relative or not private");
    run = path_join(root, "run");
  } else if (xdg != NULL && *xdg != '\0') {
    if (xdg[0] != '/') fall_back("XDG_RUNTIME_DIR is relative");
    run = path_join(xdg, "hutch");
  } else {
    run = tmp_runtime_dir();
  }
  char *dir = path_join(run, "sandbox-root");
  if (mkdir_p(dir, 0700) != 0) fall_back("cannot make the sandbox root's folder");
  return dir;
}

static void read_filter(const char *path, struct buf *out) {
  int got = read_text(path, out);
  if (got == -1) fall_back("no compiled seccomp filter for this machine (npm run build makes it)");
  if (got != 0 || out->len == 0 || out->len % 8 != 0 || out->len > 4096 * 8) fall_back("the compiled seccomp filter is damaged");
}

#if defined(__x86_64__)
#define ARCH "x64"
#elif defined(__aarch64__)
#define ARCH "arm64"
#else
#define ARCH "none"
#endif

/* --die-with-parent (run.ts): SIGKILL when the parent dies, also if it died already. */
static void die_with_parent(void) {
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, 9 /* SIGKILL */, 0, 0, 0);
  if (getppid() != parent) kill(getpid(), 9);
}

int main(int argc, char **argv) {
  all_words = argv;
  char *exe = own_folder();
  if (exe == NULL || argc < 2 || strcmp(argv[1], "sandbox") != 0) {
    fputs("hutch-sandbox: run it as `hutch sandbox ...`\n", stderr);
    return 125;
  }
  install = path_join(exe, "..");
  struct options o = {0};
  parse_options(argv + 2, argc - 2, &o);
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == NULL) fall_back("no working directory");
  struct buf seccomp = {0}, plan = {0};
  read_filter(str_cat(install, "/dist/bundle/sandbox-seccomp-" ARCH, ".bpf"), &seccomp);
  struct plan_input in = {.o = &o, .uid = getuid(), .gid = getgid(), .cwd = cwd, .seccomp = &seccomp};
  env_from_host(&in.host);
  read_data(&o);
  if (o.die_with_parent) die_with_parent();
  in.rootfs = sandbox_root(&in.host);
  build_plan(&in, &plan);
  const char *print = getenv("HUTCH_SANDBOX_PRINT_PLAN");
  if (print != NULL && strcmp(print, "1") == 0) return write(1, plan.p, plan.len) == (ssize_t)plan.len ? 0 : 125;
  const char *helper = getenv("HUTCH_NSEXEC");
  if ((o.info_fd > 0 && fcntl(o.info_fd, F_GETFD) < 0) || (o.json_fd > 0 && fcntl(o.json_fd, F_GETFD) < 0))
    fall_back("a status FD that is not open"); /* status-fd.ts statusFds words it */
  return run_helper(helper != NULL && *helper ? helper : str_cat(exe, "/hutch-nsexec", ""), &plan, in.uid, in.gid, &o);
}
