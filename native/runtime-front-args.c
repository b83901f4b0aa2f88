/* hutch-runtime-front's command line: runc's, as src/cli/runtime/argv.ts and syntax.ts take it
 * (global flags before or after the verb, --flag=value or --flag value), for the verbs the front
 * answers itself; any other form is -1 and goes to Node, which takes it or says what is wrong.
 * Also the signal names of `kill`, as src/engine/launch/signals.ts parseSignalNumber reads them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "runtime-front.h"

static const char *const VALUED[] = { "--root", "--log", "--log-format", "--rootless", NULL };
static const char *const SWITCHES[] = { "--debug", "--systemd-cgroup", NULL };
static const char *const ALL[] = { "-a", "--all", NULL };
static const char *const FORCE[] = { "-f", "--force", NULL };
static const char *const VERBS[] = { "state", "start", "kill", "delete", "create", NULL };
static const char *const CREATE_VALUED[] = { "-b", "--bundle", "--pid-file", "--console-socket", NULL };

static int listed(const char *const *list, const char *word, size_t n) {
  for (; *list != NULL; list++)
    if (strlen(*list) == n && strncmp(*list, word, n) == 0) return 1;
  return 0;
}

static void set_global(struct args *a, const char *name, const char *value) {
  if (strncmp(name, "--root", 6) == 0 && (name[6] == '=' || name[6] == 0)) a->root = value;
  else if (strncmp(name, "--log-format", 12) == 0) a->log_format = value;
  else if (strncmp(name, "--log", 5) == 0) a->log = value;
}

/* Global flags before the verb (argv.ts globalsEnd); returns the verb's index or -1. */
static int globals(int argc, char **argv, struct args *a) {
  int i = 1;
  for (; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    size_t n = eq == NULL ? strlen(argv[i]) : (size_t)(eq - argv[i]);
    if (listed(SWITCHES, argv[i], n)) {
      if (eq != NULL) return -1; /* a switch with a value: the full CLI's case */
      a->systemd_cgroup |= n == 16; /* --systemd-cgroup */
    } else if (listed(VALUED, argv[i], n)) {
      const char *value = eq != NULL ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
      if (value == NULL || *value == 0) return -1;
      set_global(a, argv[i - (eq == NULL)], value);
    } else {
      break;
    }
  }
  return i < argc && listed(VERBS, argv[i], strlen(argv[i])) ? i : -1;
}

/* One option after the verb (syntax.ts parseRuntimeWords); returns words used or -1. */
static int option(int i, int argc, char **argv, struct args *a) {
  const char *word = argv[i], *eq = strchr(word, '=');
  size_t n = eq == NULL ? strlen(word) : (size_t)(eq - word);
  int all = strcmp(a->verb, "kill") == 0 && listed(ALL, word, n);
  int force = strcmp(a->verb, "delete") == 0 && listed(FORCE, word, n);
  int create = strcmp(a->verb, "create") == 0 && listed(CREATE_VALUED, word, n);
  if (listed(SWITCHES, word, n) || all || force) {
    if (eq != NULL) return -1;
    a->force |= force;
    a->systemd_cgroup |= n == 16; /* --systemd-cgroup */
    return 1;
  }
  if (!listed(VALUED, word, n) && !create) return -1;
  const char *value = eq != NULL ? eq + 1 : i + 1 < argc ? argv[i + 1] : NULL;
  if (value == NULL || *value == 0 || (eq == NULL && value[0] == '-')) return -1;
  if (!create) set_global(a, word, value);
  else if (word[1] == 'b' || word[2] == 'b') a->bundle = value;
  else if (word[2] == 'c') a->console_socket = value;
  else a->pid_file = value;
  return eq != NULL ? 1 : 2;
}

int parse_args(int argc, char **argv, struct args *a) {
  memset(a, 0, sizeof *a);
  int i = globals(argc, argv, a), operands = 0;
  if (i < 0) return -1;
  a->verb = argv[i];
  for (i++; i < argc;) {
    if (argv[i][0] != '-') {
      if (operands == 0) a->id = argv[i];
      else if (operands == 1 && strcmp(a->verb, "kill") == 0) a->signal = argv[i];
      else return -1;
      operands++, i++;
      continue;
    }
    int used = option(i, argc, argv, a);
    if (used < 0) return -1;
    i += used;
  }
  return operands == 0 ? -1 : 0;
}

static const struct {
  const char *name;
  int number;
} SIGNALS[] = {
  { "HUP", 1 },    { "INT", 2 },      { "QUIT", 3 },   { "ILL", 4 },     { "TRAP", 5 },    { "ABRT", 6 },   { "IOT", 6 },
  { "BUS", 7 },    { "FPE", 8 },      { "KILL", 9 },   { "USR1", 10 },   { "SEGV", 11 },   { "USR2", 12 },  { "PIPE", 13 },
  { "ALRM", 14 },  { "TERM", 15 },    { "STKFLT", 16 }, { "CHLD", 17 },  { "CONT", 18 },   { "STOP", 19 },  { "TSTP", 20 },
  { "TTIN", 21 },  { "TTOU", 22 },    { "URG", 23 },   { "XCPU", 24 },   { "XFSZ", 25 },   { "VTALRM", 26 }, { "PROF", 27 },
  { "WINCH", 28 }, { "IO", 29 },      { "POLL", 29 },  { "PWR", 30 },    { "SYS", 31 },
};

/* RTMIN, RTMAX, RTMIN+N, RTMAX-N (without SIG): glibc's 34-64; -1 otherwise. */
static int realtime(const char *name) {
  if (strncmp(name, "RTMIN", 5) != 0 && strncmp(name, "RTMAX", 5) != 0) return -1;
  int base = name[4] == 'N' ? 34 : 64;
  const char *rest = name + 5;
  if (*rest == 0) return base;
  if ((*rest != '+' && *rest != '-') || rest[1] == 0 || strspn(rest + 1, "0123456789") != strlen(rest + 1) ||
      strlen(rest + 1) > 3)
    return -1;
  int n = base + atoi(rest + 1) * (*rest == '-' ? -1 : 1);
  return n >= 34 && n <= 64 ? n : -1;
}

int parse_signal(const char *value) {
  char upper[16];
  size_t n = strlen(value);
  if (n > 0 && strspn(value, "0123456789") == n) {
    long v = n <= 10 ? strtol(value, NULL, 10) : 0;
    return v >= 1 && v <= 64 ? (int)v : -1;
  }
  if (n == 0 || n >= sizeof upper) return -1;
  for (size_t i = 0; i <= n; i++) {
    if ((unsigned char)value[i] >= 0x80) return -1; /* toUpperCase beyond ASCII: Node's case */
    upper[i] = (char)toupper((unsigned char)value[i]);
  }
  const char *name = strncmp(upper, "SIG", 3) == 0 ? upper + 3 : upper;
  int rt = realtime(name);
  if (rt > 0) return rt;
  for (size_t i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++)
    if (strcmp(SIGNALS[i].name, name) == 0) return SIGNALS[i].number;
  return -1;
}
