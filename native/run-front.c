/*
 * hutch-run-front (run-front.h): bin/hutch execs it for `hutch [--root DIR] run ...` when it is
 * built. The command line it handles, the host it accepts; for anything else it execs `node
 * bin/hutch` with the same words (fall_back), before it made anything.
 * HUTCH_RUN_PRINT_PLAN=1 writes the plan to stdout instead of running it, as the TypeScript path
 * does; HUTCH_RUN_NO_NODE=1 makes a hand-over exit 99 with its reason (the tests' proof that a
 * case ran in C).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-front.h"

extern char **environ;
static char **all_words; /* argv: hutch-run-front WORDS... (the words bin/hutch was given) */
static char *install;    /* the package's folder: native/.. */

/* early-monitor.cts RUN_VALUE_OPTIONS: the options of `run` that take a value (their value is
   skipped by the scan below, whatever it looks like). run-front.test.ts holds the two equal. */
static const char *const RUN_VALUE_OPTIONS[] = {"-m", "--memory", "--memory-swap", "--memory-reservation", "--cpus",
    "-c", "--cpu-shares", "--cpu-weight", "--cpu-period", "--cpu-quota", "--cpuset-cpus", "--cpuset-mems",
    "--pids-limit", "--blkio-weight", "--blkio-weight-device", "--device-read-bps", "--device-write-bps",
    "--device-read-iops", "--device-write-iops", "--pull", "--platform", "--storage-driver", "--entrypoint",
    "--network", "--net", "-p", "--publish", "--dns", "--dns-search", "--dns-option", "--add-host", "--cgroups",
    "--cgroup-manager", "--cgroup-parent", "--mount", "--root", "--rootfs", "-e", "--env", "--env-file", "-w",
    "--workdir", "-u", "--user", "-v", "--volume", "--tmpfs", "-h", "--hostname", "--pid", "--ipc", "--uts",
    "--shm-size", "--device", "--cdi-spec-dir", "--gpus", "--userns", "--uidmap", "--gidmap", "--cap-add",
    "--cap-drop", "--security-opt", "--ulimit", "--name", "--restart", "--preserve-fds", NULL};

/* Whether the words are a `run` that clipanion reads as detached: early-monitor.cts
   scanContainerLine, for run alone (its options before the verb too, up to the image or `--`; the
   last of -d, --detach[=true|false], --no-detach and the short batches counts). A spelling
   clipanion refuses is a usage error, which the forked CLI prints as the caller's. */
static int detached_line(char **words) {
  int verb = 0, detach = 0;
  for (int i = 0; words[i] != NULL; i++) {
    const char *w = words[i];
    if (strcmp(w, "--") == 0) break;
    if (w[0] != '-' || w[1] == '\0') {
      if (verb || strcmp(w, "run") != 0) break; /* the image, or another verb */
      verb = 1;
      continue;
    }
    if (strcmp(w, "--help") == 0) return 0;
    if (strcmp(w, "-d") == 0 || strcmp(w, "--detach") == 0 || strcmp(w, "--detach=true") == 0) detach = 1;
    else if (strcmp(w, "--no-detach") == 0 || strcmp(w, "--detach=false") == 0) detach = 0;
    else if (w[1] != '-' && strlen(w) > 2 && strspn(w + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(w + 1))
      detach |= strchr(w, 'd') != NULL; /* a batch of short flags (-dit), as clipanion reads it */
    else
      for (const char *const *o = RUN_VALUE_OPTIONS; *o != NULL; o++)
        if (strcmp(w, *o) == 0) {
          if (words[i + 1] != NULL) i++; /* its value, whatever it looks like */
          break;
        }
  }
  return verb && detach;
}

static int forking; /* detached_run began: a failure there hands over as ever */

_Noreturn void fall_back(const char *why) {
  /* A detached run the front does not run itself: Node's, but one Node start (detached_run). */
  int own = !forking && detached_line(all_words + 1);
  if (no_node("HUTCH_RUN_NO_NODE")) {
    fprintf(stderr, "hutch-run-front: would hand over to node: %s%s\n", why, own ? " (as its own monitor)" : "");
    exit(99);
  }
  if (own) forking = 1, detached_run(install, all_words);
  exec_node(install, all_words);
}

/* The variables that change what the TypeScript path does for this command line, beyond those
   read below: any other HUTCH_ one (a trace, a fault point, a test switch) is its to honour. */
static const char *const OWN_VARIABLES[] = {"HUTCH_ROOT", "HUTCH_NSEXEC", "HUTCH_RUN_PRINT_PLAN", "HUTCH_RUN_NO_NODE",
                                            "HUTCH_CODE_CACHE_DIR", /* the union's (run-front-union.c honours them) */
                                            "HUTCH_FS_SHARED", "HUTCH_FS_LINGER", "HUTCH_FS_IDLE_MS", "HUTCH_FS_PAGES",
                                            "HUTCH_FS_SHARED_MAX", "HUTCH_FS_FAST", "HUTCH_FS_SPIN_US",
                                            "HUTCH_FS_CHANNELS", NULL};

static void check_environment(char **words) {
  /* Node reads argv and the environment as UTF-8 (a bad sequence becomes U+FFFD): other paths, other words. */
  for (char **w = words; *w != NULL; w++)
    if (!utf8_valid((const unsigned char *)*w)) fall_back("a word that is not UTF-8");
  for (char **e = environ; *e != NULL; e++) {
    if (!utf8_valid((const unsigned char *)*e)) fall_back("a variable that is not UTF-8");
    if (strncmp(*e, "CONTAINERS_", 11) == 0) fall_back("a CONTAINERS_ variable (containers.conf or storage.conf elsewhere)");
    if (strncmp(*e, "HUTCH_", 6) != 0) continue;
    size_t n = strcspn(*e, "=");
    int own = 0;
    for (const char *const *v = OWN_VARIABLES; *v != NULL; v++) own |= strlen(*v) == n && strncmp(*v, *e, n) == 0;
    if (!own) fall_back("a HUTCH_ variable it does not know");
  }
}

/* A non-empty absolute path from the environment, or NULL when unset or empty; relative: Node's. */
static const char *absolute_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return NULL;
  if (v[0] != '/') fall_back("a relative path in the environment");
  return v;
}

/* paths.ts hutchPaths: --root (or HUTCH_ROOT), else the XDG folders. */
static void state_paths(struct run *r, const char *root) {
  if (root == NULL) root = absolute_env("HUTCH_ROOT");
  if (root != NULL) {
    if (root[0] != '/' || !private_dir(root)) fall_back("a relative or unsafe --root");
    r->data = path_join(root, "data"), r->run = path_join(root, "run");
    return;
  }
  const char *home = absolute_env("HOME"), *data_home = absolute_env("XDG_DATA_HOME"), *xdg = absolute_env("XDG_RUNTIME_DIR");
  if (data_home == NULL && home == NULL) fall_back("no HOME");
  r->data = path_join(data_home != NULL ? data_home : path_join(home, ".local/share"), "hutch");
  if (xdg != NULL) {
    r->run = path_join(xdg, "hutch");
    return;
  }
  r->run = tmp_runtime_dir();
}

/* `--name VALUE` or `--name=VALUE` at words[*i]: the value (and *i past it), or NULL. */
static const char *value_of(char **words, int n, int *i, const char *name) {
  size_t len = strlen(name);
  if (strncmp(words[*i], name, len) != 0) return NULL;
  if (words[*i][len] == '=' && len == 2) fall_back("a short flag with `=`"); /* -e=V: the parser's to read */
  if (words[*i][len] == '=') return words[(*i)++] + len + 1;
  if (words[*i][len] != '\0') return NULL;
  if (*i + 1 >= n) fall_back("a flag without its value");
  if (words[*i + 1][0] == '-') fall_back("a flag's value that starts with -"); /* a flag to the parser? its call */
  *i += 2;
  return words[*i - 1];
}

/* -i, -t or -d ('i', 't' or 'd': the short letter, or --interactive's, --tty's and --detach's first), each once. */
static void count_switch(struct run *r, char letter, int *detach) {
  if (letter == 'd') {
    if ((*detach)++) fall_back("-d given twice");
    r->ahead = "-d (a detached run: Node records it and is its monitor)";
  } else if (letter == 'i' ? r->interactive++ : r->tty++)
    fall_back(letter == 'i' ? "-i given twice" : "-t given twice");
}

/* security/options.ts parseSecurityOpts, for no-new-privileges (KEY=VALUE or the older KEY:VALUE;
   the last given counts); seccomp, mask, unmask and anything it refuses are the TypeScript path's. */
static void security_opt(struct run *r, const char *v) {
  size_t key = strcspn(v, "=:");
  const char *arg = v[key] != '\0' ? v + key + 1 : NULL;
  if (key != strlen("no-new-privileges") || strncmp(v, "no-new-privileges", key) != 0 ||
      (arg != NULL && strcmp(arg, "true") != 0 && strcmp(arg, "false") != 0))
    fall_back("a --security-opt other than no-new-privileges[=true|false]");
  r->no_new_privileges = arg == NULL || strcmp(arg, "true") == 0;
}

/* [--root DIR] run [--rm] [--read-only] [--init] [--env-host] [-i] [-t] [--network none|host|slirp4netns] [--env-file FILE]... [--ulimit NAME=SOFT[:HARD]]... [--security-opt no-new-privileges[=true|false]]... [--dns IP]... [--dns-search D]... [--dns-option O]... [--add-host NAME:IPv4]... [--shm-size N[bkmgtp][i][b]] [-e K[=V]]... [-v HOST:CTR[:ro|rw]]... [--tmpfs DST[:OPTS]]...
   [-w DIR] [--hostname NAME] [-u USER[:GROUP]] (--rootfs DIR [--] CMD | [--entrypoint WORD] [--pull missing|never] IMAGE [CMD])
   [ARGS...], the flags in any order
   (--root after run too). A foreground run removes its container with or without --rm (run.ts). */
static void parse(struct run *r, char **words, int n, const char **root, const char *cwd) {
  int i = 0;
  while (i < n && strcmp(words[i], "run") != 0) {
    const char *v = value_of(words, n, &i, "--root");
    if (v == NULL || *root != NULL) fall_back("a word before run it does not know");
    if (*v == '\0') fall_back("an empty --root");
    *root = v;
  }
  if (i == n) fall_back("no run");
  i++;
  int rm = 0, network = 0, detach = 0; /* how many times given */
  r->env = calloc((size_t)n, sizeof(char *)), r->volume_flags = calloc((size_t)n, sizeof(char *));
  r->tmpfs_flags = calloc((size_t)n, sizeof(char *)), r->env_files = calloc((size_t)n, sizeof(char *));
  r->ulimit_flags = calloc((size_t)n, sizeof(char *));
  struct etc_flag *etc[] = {&r->dns, &r->dns_search, &r->dns_option, &r->add_host};
  for (int e = 0; e < 4; e++)
    if ((etc[e]->v = calloc((size_t)n, sizeof(char *))) == NULL) fall_back("out of memory");
  if (r->env == NULL || r->volume_flags == NULL || r->tmpfs_flags == NULL || r->env_files == NULL || r->ulimit_flags == NULL)
    fall_back("out of memory");
  while (i < n && words[i][0] == '-' && strcmp(words[i], "--") != 0) {
    const char *v;
    /* Each flag once (-e aside): which of two the parser keeps is its business. */
    if (strcmp(words[i], "--rm") == 0) {
      if (rm++) fall_back("--rm given twice");
      i++;
    } else if (strcmp(words[i], "--read-only") == 0) { /* --no-read-only, --read-only=V: the parser's to read */
      if (r->read_only++) fall_back("--read-only given twice");
      i++;
    } else if (strcmp(words[i], "--env-host") == 0) {
      if (r->env_host++) fall_back("--env-host given twice");
      i++;
    } else if (strcmp(words[i], "--init") == 0) {
      if (r->init++) fall_back("--init given twice");
      i++;
    } else if (strcmp(words[i], "--interactive") == 0 || strcmp(words[i], "--tty") == 0 || strcmp(words[i], "--detach") == 0) {
      count_switch(r, words[i][2], &detach);
      i++;
    } else if (words[i][1] != '-' && strspn(words[i] + 1, "itd") == strlen(words[i] + 1) && words[i][1] != '\0') {
      /* -i, -t, -d and their batches (-it, -dit), as clipanion reads short booleans */
      for (const char *c = words[i] + 1; *c; c++) count_switch(r, *c, &detach);
      i++;
    } else if ((v = value_of(words, n, &i, "-p")) != NULL || (v = value_of(words, n, &i, "--publish")) != NULL) {
      r->ahead = "-p (its ports are bound by Node)"; /* the value is Node's to read */
    } else if ((v = value_of(words, n, &i, "--name")) != NULL) {
      r->ahead = "--name (the container is recorded by Node)";
    } else if ((v = value_of(words, n, &i, "--root")) != NULL) {
      if (*root != NULL || *v == '\0') fall_back("--root given twice, or empty");
      *root = v;
    } else if ((v = value_of(words, n, &i, "--network")) != NULL) {
      if (network++) fall_back("--network given twice");
      if (strcmp(v, "none") != 0 && strcmp(v, "host") != 0 && strcmp(v, "slirp4netns") != 0)
        fall_back("a network other than none, host or slirp4netns (without options)");
      r->host_network = strcmp(v, "host") == 0, r->slirp = strcmp(v, "slirp4netns") == 0, r->network_flag = v;
    } else if ((v = value_of(words, n, &i, "--rootfs")) != NULL) {
      if (r->rootfs != NULL || *v == '\0') fall_back("--rootfs given twice, or empty");
      r->rootfs = path_resolve(cwd, v), r->rootfs_flag = v;
    } else if ((v = value_of(words, n, &i, "-e")) != NULL || (v = value_of(words, n, &i, "--env")) != NULL) {
      r->env[r->nenv++] = v;
    } else if ((v = value_of(words, n, &i, "--env-file")) != NULL) {
      r->env_files[r->nenv_files++] = v;
    } else if ((v = value_of(words, n, &i, "-v")) != NULL || (v = value_of(words, n, &i, "--volume")) != NULL) {
      if (r->nvolumes == MAX_VOLUMES) fall_back("more -v than it keeps");
      r->volume_flags[r->nvolumes++] = v;
    } else if ((v = value_of(words, n, &i, "--security-opt")) != NULL) {
      security_opt(r, v);
    } else if ((v = value_of(words, n, &i, "--dns")) != NULL) {
      r->dns.v[r->dns.n++] = v;
    } else if ((v = value_of(words, n, &i, "--dns-search")) != NULL) {
      r->dns_search.v[r->dns_search.n++] = v;
    } else if ((v = value_of(words, n, &i, "--dns-option")) != NULL) {
      r->dns_option.v[r->dns_option.n++] = v;
    } else if ((v = value_of(words, n, &i, "--add-host")) != NULL) {
      r->add_host.v[r->add_host.n++] = v;
    } else if ((v = value_of(words, n, &i, "--shm-size")) != NULL) {
      if (r->shm_size != NULL) fall_back("--shm-size given twice");
      r->shm_size = v;
    } else if ((v = value_of(words, n, &i, "--ulimit")) != NULL) {
      r->ulimit_flags[r->nulimits++] = v;
    } else if ((v = value_of(words, n, &i, "--tmpfs")) != NULL) {
      r->tmpfs_flags[r->ntmpfs++] = v;
    } else if ((v = value_of(words, n, &i, "-w")) != NULL || (v = value_of(words, n, &i, "--workdir")) != NULL) {
      if (r->workdir != NULL) fall_back("--workdir given twice");
      if (v[0] != '/') fall_back("a relative --workdir (the TypeScript path refuses it)");
      r->workdir = v;
    } else if ((v = value_of(words, n, &i, "-u")) != NULL || (v = value_of(words, n, &i, "--user")) != NULL) {
      if (r->user_spec != NULL) fall_back("--user given twice");
      r->user_spec = v;
    } else if ((v = value_of(words, n, &i, "--pull")) != NULL) {
      if (r->pull != NULL) fall_back("--pull given twice");
      /* resolve.ts: missing and never both run an image the user's store has; always pulls */
      if (strcmp(v, "missing") != 0 && strcmp(v, "never") != 0) fall_back("a --pull other than missing or never");
      r->pull = v;
    } else if ((v = value_of(words, n, &i, "--entrypoint")) != NULL) {
      if (r->entrypoint != NULL) fall_back("--entrypoint given twice");
      r->entrypoint = v;
    } else if ((v = value_of(words, n, &i, "--hostname")) != NULL) {
      if (r->hostname_flag != NULL) fall_back("--hostname given twice");
      /* blueprint.ts: 1-64 characters without (JavaScript's) white space; printable ASCII here */
      size_t len = strlen(v);
      for (const char *c = v; *c; c++)
        if (*c <= ' ' || *c > '~') fall_back("a --hostname that is not printable ASCII");
      if (len == 0 || len > 64) fall_back("a --hostname of no or more than 64 characters");
      r->hostname_flag = v;
    } else fall_back("a flag it does not handle");
  }
  if (i < n && strcmp(words[i], "--") == 0) i++; /* the command's words after it, flags or not */
  if (!network) r->slirp = 1; /* the default: slirp4netns when installed (check_slirp) */
  if (r->rootfs == NULL) { /* container-flags.ts setupFlags: the first positional is the image, the rest its command */
    if (i == n) fall_back("no image");
    r->image.ref = words[i++];
    if (i < n && strcmp(words[i], "--") == 0) fall_back("a -- after the image");
  } else if (i == n) fall_back("no command");
  else if (r->entrypoint != NULL || r->pull != NULL) fall_back("--entrypoint or --pull with --rootfs");
  r->args = words + i;
}

/* in-root.ts existsInRoot (front-util.c resolve_in_root). */
static int exists_in_root(const char *root, const char *path) {
  char *found = resolve_in_root(root, path);
  free(found);
  return found != NULL;
}

/* linux.ts FLAG_OPTIONS: a mount option that is a flag, set or cleared (the propagation words set nothing). */
static const struct {
  const char *word;
  uint32_t set, clear;
} FLAG_OPTIONS[] = {
    {"ro", MS_RDONLY_, 0}, {"rw", 0, MS_RDONLY_}, {"nosuid", MS_NOSUID_, 0}, {"suid", 0, MS_NOSUID_},
    {"nodev", MS_NODEV_, 0}, {"dev", 0, MS_NODEV_}, {"noexec", MS_NOEXEC_, 0}, {"exec", 0, MS_NOEXEC_},
    {"sync", MS_SYNCHRONOUS_, 0}, {"dirsync", MS_DIRSYNC_, 0}, {"noatime", MS_NOATIME_, 0}, {"nodiratime", MS_NODIRATIME_, 0},
    {"relatime", MS_RELATIME_, 0}, {"strictatime", MS_STRICTATIME_, 0}, {"private", 0, 0}, {"rprivate", 0, 0},
    {"slave", 0, 0}, {"rslave", 0, 0}, {"shared", 0, 0}, {"rshared", 0, 0}, {"unbindable", 0, 0}, {"runbindable", 0, 0},
    {NULL, 0, 0},
};

static int js_space(unsigned char c) { /* String.prototype.trim's, the ASCII ones */
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* blueprint.ts readEnvFile: each --env-file's lines, trimmed, neither empty nor a comment, go
   before the -e values (each then read as a -e value is). Read as Node reads it: a file that is not
   a regular one, not UTF-8, holds a NUL, or has a line whose edge is not ASCII (trim() takes
   Unicode spaces and a byte order mark too) is the TypeScript path's, as is one it cannot read
   (ENV_FILE_UNREADABLE). */
static void read_env_files(struct run *r) {
  if (r->nenv_files == 0) return;
  size_t cap = (size_t)r->nenv, n = 0;
  struct buf *texts = calloc((size_t)r->nenv_files, sizeof *texts);
  if (texts == NULL) fall_back("out of memory");
  for (int f = 0; f < r->nenv_files; f++) {
    if (read_text(r->env_files[f], &texts[f]) != 0) fall_back("an --env-file it does not read (not a regular file, or unreadable)");
    buf_add(&texts[f], "", 1);
    if (strlen(texts[f].p) != texts[f].len - 1) fall_back("an --env-file holding a NUL byte");
    if (!utf8_valid((unsigned char *)texts[f].p)) fall_back("an --env-file that is not UTF-8");
    for (const char *c = texts[f].p; *c; c++) cap += *c == '\n';
    cap++;
  }
  const char **env = calloc(cap + 1, sizeof(char *));
  if (env == NULL) fall_back("out of memory");
  for (int f = 0; f < r->nenv_files; f++)
    for (char *line = texts[f].p, *next; line != NULL; line = next) {
      char *end = strchr(line, '\n');
      next = end != NULL ? end + 1 : NULL;
      if (end == NULL) end = line + strlen(line);
      while (line < end && js_space((unsigned char)*line)) line++;
      while (end > line && js_space((unsigned char)end[-1])) end--;
      if (line == end || *line == '#') continue;
      if ((unsigned char)*line >= 0x80 || (unsigned char)end[-1] >= 0x80) fall_back("an --env-file line with a non-ASCII edge");
      *end = '\0';
      env[n++] = line;
    }
  for (int i = 0; i < r->nenv; i++) env[n++] = r->env[i];
  r->env = env, r->nenv = (int)n;
}

/* A --ulimit number as blueprint.ts parseUlimit reads it (-?\d+; negative: unlimited); -1 when it
   is not one, or has more digits than a double holds exactly (Number() would round it). */
static int ulimit_number(const char *s, const char *end, uint64_t *out) {
  int negative = *s == '-';
  const char *digits = s + negative;
  if (digits == end || end - digits > 15) return -1;
  uint64_t v = 0;
  for (const char *c = digits; c < end; c++) {
    if (*c < '0' || *c > '9') return -1;
    v = v * 10 + (uint64_t)(*c - '0');
  }
  *out = negative && v != 0 ? UINT64_MAX : v; /* -0 is 0 (Number('-0') < 0 is false) */
  return 0;
}

/* blueprint.ts parseUlimit: NAME=SOFT[:HARD], NAME one of linux.ts RLIMITS' lowercased; HARD
   defaults to SOFT. Anything else is the TypeScript path's to refuse (ULIMIT_INVALID). */
static void check_ulimits(struct run *r) {
  static const char *const NAMES[] = {"cpu",    "fsize", "data",       "stack",    "core", "rss",    "nproc",  "nofile",
                                      "memlock", "as",   "locks",      "sigpending", "msgqueue", "nice", "rtprio", "rttime", NULL};
  r->ulimits = calloc((size_t)r->nulimits + 1, sizeof *r->ulimits);
  if (r->ulimits == NULL) fall_back("out of memory");
  for (int i = 0; i < r->nulimits; i++) {
    const char *v = r->ulimit_flags[i], *eq = strchr(v, '='), *colon = eq == NULL ? NULL : strchr(eq, ':');
    struct rlimit_flag *l = &r->ulimits[i];
    int known = -1;
    for (int k = 0; eq != NULL && NAMES[k] != NULL; k++)
      if (strlen(NAMES[k]) == (size_t)(eq - v) && strncmp(v, NAMES[k], (size_t)(eq - v)) == 0) known = k;
    const char *soft_end = colon != NULL ? colon : v + strlen(v);
    if (known < 0 || ulimit_number(eq + 1, soft_end, &l->soft) != 0 ||
        (colon != NULL && ulimit_number(colon + 1, v + strlen(v), &l->hard) != 0))
      fall_back("a --ulimit it does not read");
    if (colon == NULL) l->hard = l->soft;
    l->resource = (uint32_t)known;
  }
}

/* net/etc.ts networkEtcFiles' checks of the flags, before anything is made: a line break (NUL cannot
   come in argv) is NET_ETC_LINE_BREAK; --add-host NAME:IP parseAddHost's, here with an IPv4
   address only (IPv6, host-gateway, and what it refuses are the TypeScript path's). */
static void check_etc_flags(const struct run *r) {
  const struct etc_flag *all[] = {&r->dns, &r->dns_search, &r->dns_option, &r->add_host};
  for (int e = 0; e < 4; e++)
    for (int i = 0; i < all[e]->n; i++)
      if (strpbrk(all[e]->v[i], "\r\n") != NULL) fall_back("a --dns, --dns-search, --dns-option or --add-host with a line break");
  for (int i = 0; i < r->add_host.n; i++) {
    const char *v = r->add_host.v[i], *colon = strchr(v, ':');
    size_t n = colon == NULL ? 0 : (size_t)(colon - v);
    int name_ok = n > 0 && isalnum((unsigned char)v[0]) && isalnum((unsigned char)v[n - 1]);
    for (size_t k = 0; name_ok && k < n; k++) name_ok = isalnum((unsigned char)v[k]) || v[k] == '.' || v[k] == '-';
    struct in_addr address; /* glibc's inet_pton takes net.isIPv4's form: four parts of 0-255, no leading zero */
    if (!name_ok || inet_pton(AF_INET, colon + 1, &address) != 1) fall_back("an --add-host other than NAME:IPv4");
  }
}

/* cgroups/flags.ts parseSize for --shm-size (blueprint.ts sharing): a whole number, a unit of b, k,
   m, g, t or p (any case), an optional i and b; in KiB rounded up (container-spec.ts systemMounts).
   A fraction, white space, 0 (SHM_SIZE_INVALID), what the pattern refuses, and a size past what a
   double holds exactly are the TypeScript path's. */
static void check_shm_size(struct run *r) {
  if (r->shm_size == NULL) return;
  const char *s = r->shm_size, *c = s;
  unsigned long long n = 0;
  while (*c >= '0' && *c <= '9' && c - s < 16) n = n * 10 + (unsigned long long)(*c++ - '0');
  int power = 0;
  const char *units = "bkmgtp", *unit = *c != '\0' ? strchr(units, tolower((unsigned char)*c)) : NULL;
  if (unit != NULL) power = (int)(unit - units), c++;
  if (*c == 'i' || *c == 'I') c++;
  if (*c == 'b' || *c == 'B') c++;
  unsigned long long limit = 1ULL << 53;
  for (int p = 0; p < power; p++) limit /= 1024;
  if (c == s || !(*s >= '0' && *s <= '9') || *c != '\0' || n == 0 || n > limit)
    fall_back("a --shm-size it does not read (a fraction, white space, 0, or past 2^53 bytes)");
  unsigned long long bytes = n;
  for (int p = 0; p < power; p++) bytes *= 1024;
  r->shm_kib = (bytes + 1023) / 1024;
}

/* blueprint.ts tmpfsMount (DST[:OPTIONS], nosuid,nodev then OPTIONS or mode=1777) through plan.ts mountStep and
   linux.ts mountOptions: the flags, the rest the data in order. A tree's target must be there (tree-layer.ts
   missingTargets: else its writable layer is the union's); an image's is made in its union. */
static void check_tmpfs(struct run *r) {
  r->tmpfs = calloc((size_t)r->ntmpfs + 1, sizeof *r->tmpfs);
  if (r->tmpfs == NULL) fall_back("out of memory");
  for (int i = 0; i < r->ntmpfs; i++) {
    char *value = str_cat(r->tmpfs_flags[i], "", ""), *options = strchr(value, ':');
    if (options != NULL) *options++ = '\0';
    if (options != NULL && strchr(options, ':') != NULL) fall_back("a --tmpfs with a second ':'");
    if (value[0] != '/') fall_back("a --tmpfs destination that is not an absolute path (the TypeScript path refuses it)");
    struct tmpfs *t = &r->tmpfs[i];
    t->inside = path_resolve("/", value);
    if (strcmp(t->inside, "/") == 0) fall_back("a --tmpfs over the root or a system mount");
    for (const struct system_mount *m = SYSTEM_MOUNTS; m->target != NULL; m++) /* on, beneath or above one */
      if (strcmp(t->inside, m->target) == 0 || path_beneath(t->inside, m->target) || path_beneath(m->target, t->inside))
        fall_back("a --tmpfs over the root or a system mount");
    t->target = str_cat(r->rootfs, t->inside, "");
    t->flags = MS_NOSUID_ | MS_NODEV_;
    struct buf data = {0};
    char *list = options != NULL && *options ? options : "mode=1777", *word, *rest = list;
    int words = 0;
    do { /* split(','): an empty word is data too */
      word = rest;
      rest = strchr(word, ',');
      if (rest != NULL) *rest++ = '\0';
      if (strcmp(word, "tmpcopyup") == 0 || strcmp(word, "bind") == 0 || strcmp(word, "rbind") == 0)
        fall_back("a --tmpfs option it does not handle (tmpcopyup, bind)");
      if (strcmp(word, "notmpcopyup") == 0) continue;
      int known = 0;
      for (int f = 0; FLAG_OPTIONS[f].word != NULL && !known; f++)
        if (strcmp(word, FLAG_OPTIONS[f].word) == 0) known = 1, t->flags = (t->flags | FLAG_OPTIONS[f].set) & ~FLAG_OPTIONS[f].clear;
      if (known) continue;
      if (words++) buf_add(&data, ",", 1);
      buf_add(&data, word, strlen(word));
    } while (rest != NULL);
    t->data = buf_cstr(&data);
    free(data.p);
    int in_earlier = 0;
    for (int j = 0; j < i; j++) in_earlier |= path_beneath(t->target, r->tmpfs[j].target);
    if (!in_earlier && r->image.ref == NULL && !exists_in_root(r->rootfs, t->inside))
      fall_back("the tree lacks a --tmpfs destination (its writable layer is the union's)");
  }
}

/* flags.ts parseVolumeFlag, setup.ts resolveOne and blueprint.ts volumeMount for a host path bound as
   it is: SRC:DST[:ro|rw], both absolute, SRC an existing directory or file (requireSource words a missing
   one). tree-layer.ts: a DST the tree lacks (not beneath an earlier mount) runs on the union. */
static void check_volumes(struct run *r, const char *cwd) {
  r->volumes = calloc((size_t)r->nvolumes + 1, sizeof *r->volumes);
  if (r->volumes == NULL) fall_back("out of memory");
  for (int i = 0; i < r->nvolumes; i++) {
    char *flag = str_cat(r->volume_flags[i], "", ""), *destination = strchr(flag, ':'), *options = NULL;
    if (destination == NULL) fall_back("a -v without a host path (an anonymous volume)");
    *destination++ = '\0';
    if ((options = strchr(destination, ':')) != NULL) *options++ = '\0';
    if (options != NULL && strcmp(options, "ro") != 0 && strcmp(options, "rw") != 0)
      fall_back("a -v option other than ro or rw"); /* U, O, nocopy, z, several, a third ':' */
    /* flags.ts isHostPath: absolute, `.`, `..`, `./...` or `../...` (resolved against the working
       directory); any other is a volume's name */
    int relative = strcmp(flag, ".") == 0 || strcmp(flag, "..") == 0 || strncmp(flag, "./", 2) == 0 || strncmp(flag, "../", 3) == 0;
    if (flag[0] != '/' && !relative) fall_back("a -v source that is a volume's name");
    if (destination[0] != '/') fall_back("a -v destination that is not an absolute path");
    struct volume *v = &r->volumes[i];
    v->source = path_resolve(cwd, flag), v->readonly = options != NULL && strcmp(options, "ro") == 0;
    struct stat st;
    if (stat(v->source, &st) != 0) fall_back("a -v source that does not exist");
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) fall_back("a -v source that is no directory or regular file");
    v->dir = S_ISDIR(st.st_mode);
    char *inside = path_resolve("/", destination);
    if (strcmp(inside, "/") == 0) fall_back("a -v over the container's root");
    v->target = str_cat(r->rootfs, inside, "");
    int in_earlier = in_system_mount(inside);
    for (int j = 0; j < r->ntmpfs; j++) in_earlier |= path_beneath(v->target, r->tmpfs[j].target); /* mounted before the binds */
    for (int j = 0; j < i; j++) in_earlier |= path_beneath(v->target, r->volumes[j].target);
    if (!in_earlier && r->image.ref == NULL && !exists_in_root(r->rootfs, inside)) /* an image's: the union */
      fall_back("the tree lacks a -v destination (its writable layer is the union's)");
  }
}

/* An image run's own hand-overs, on the command line alone: what the TypeScript path does otherwise. */
static void check_image_run(const struct run *r) {
  struct stat st;
  if (stat(r->image.ref, &st) == 0) fall_back("an image named like a file (a squashfs image is its path)");
}

/* 64 hex digits from /dev/urandom (sys/random.ts randomHex(32)). */
static void random_id(char id[65]) {
  unsigned char bytes[32];
  FILE *f = fopen("/dev/urandom", "re");
  if (f == NULL || fread(bytes, 1, sizeof bytes, f) != sizeof bytes) fall_back("/dev/urandom cannot be read");
  fclose(f);
  for (int i = 0; i < 32; i++) snprintf(id + 2 * i, 3, "%02x", bytes[i]);
}

int main(int argc, char **argv) {
  all_words = argv;
  char *exe = own_folder();
  if (exe == NULL) {
    fputs("hutch-run-front: cannot find its own folder\n", stderr);
    return 125;
  }
  install = path_join(exe, "..");
  check_environment(argv);
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == NULL || !utf8_valid((unsigned char *)cwd)) fall_back("no working directory (or not UTF-8)");
  struct run r = {.uid = getuid(), .gid = getgid(), .native = exe};
  const char *root = NULL;
  parse(&r, argv + 1, argc - 1, &root, cwd);
  read_env_files(&r);
  check_ulimits(&r);
  check_etc_flags(&r);
  check_shm_size(&r);
  if (r.ahead != NULL && r.image.ref == NULL) fall_back(r.ahead); /* no union to start */
  struct stat st; /* foreground.ts checkRootfs: the path as given (a missing `x` of `x/..` fails) */
  if (r.image.ref == NULL && (stat(r.rootfs_flag, &st) != 0 || !S_ISDIR(st.st_mode))) fall_back("--rootfs is not a directory");
  if (r.image.ref != NULL) check_image_run(&r);
  struct passwd *pw = getpwuid(r.uid);
  if (pw == NULL) fall_back("the user has no name");
  r.user_name = strdup(pw->pw_name);
  r.root_flag = root;
  if (r.image.ref == NULL) check_tmpfs(&r), check_volumes(&r, cwd); /* an image's once its root is known (below) */
  state_paths(&r, root);
  if (r.slirp) check_slirp(&r, cwd);
  const char *home = absolute_env("HOME");
  read_conf(&r, home, absolute_env("XDG_CONFIG_HOME"), install);
  read_id_maps(&r, cwd);
  if (r.image.ref != NULL) find_image(&r);
  read_user(&r);
  random_id(r.id);
  if (r.image.ref != NULL) {
    r.rootfs = str_cat(r.run, "/ephemeral/", str_cat(r.id, "/merged", "")); /* storage.ts rootfsPath */
    check_tmpfs(&r), check_volumes(&r, cwd);
  }
  snprintf(r.hostname, sizeof r.hostname, "%.64s", r.hostname_flag != NULL ? r.hostname_flag : r.id); /* 12 digits of the id */
  if (r.hostname_flag == NULL) r.hostname[12] = '\0';
  const char *print = getenv("HUTCH_RUN_PRINT_PLAN"), *helper_env = getenv("HUTCH_NSEXEC");
  const char *helper = helper_env != NULL && *helper_env ? helper_env : str_cat(exe, "/hutch-nsexec", "");
  struct union_mount u;
  if (r.image.ref != NULL) union_check(&r, &u, install, helper); /* storage.ts startUnion's shared daemon, or the TypeScript path */
  if (r.ahead != NULL) { /* Node's run, with the daemon's start begun (a printed plan starts nothing) */
    if (print == NULL || strcmp(print, "1") != 0) union_start_ahead(&u);
    fall_back(r.ahead); /* -d: as its own monitor (detached_line) */
  }
  return run_container(&r, r.image.ref != NULL ? &u : NULL, helper, print != NULL && strcmp(print, "1") == 0);
}
