/* hutch-runtime-front: what bin/hutch-runtime runs. Engines start the runtime once per step of
 * every container (podman: create, start, kill, delete --force), and a Node start costs ~75 ms
 * of CPU where runc's verbs cost ~20: so `state`, `start`, `kill` and `delete` of a record that
 * needs no Node (no cgroup, no hooks) are answered here, from the record store that
 * src/engine/oci/state.ts owns (docs/oci-records.md), with the same output, messages and exit
 * statuses as the Node verbs (src/cli/runtime/light-verbs.ts), and `create` of the bundles a
 * rootless engine writes (runtime-front-create.c). Everything else (another create, run, exec,
 * list, ps, features, help, a flag or record it does not know, HUTCH_DEBUG set) is exec'd as
 * `node PKG/bin/hutch runtime ARGS...`, before anything was changed; HUTCH_RUNTIME_FRONT=node
 * sends every command there (test/integration/runtime-front.test.ts compares both). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "front.h"
#include "runtime-front.h"

/* What the front prints, grown as needed; strings as JSON.stringify writes them. */
void out_add(struct out *o, const char *s, size_t n) {
  if (o->len + n + 1 > o->cap) {
    size_t cap = (o->len + n + 1) * 2;
    char *b = realloc(o->buf, cap);
    if (b == NULL) abort();
    o->buf = b, o->cap = cap;
  }
  memcpy(o->buf + o->len, s, n);
  o->len += n, o->buf[o->len] = 0;
}

void out_str(struct out *o, const char *s) {
  out_add(o, s, strlen(s));
}

void out_json_str(struct out *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  out_add(o, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                    : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
    char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
    if (esc != NULL) out_str(o, esc);
    else if (c < 0x20) out_add(o, u, 6);
    else out_add(o, (const char *)&c, 1);
  }
  out_add(o, "\"", 1);
}

char *install_dir(void) {
  char *native = own_folder(), *install = native == NULL ? NULL : path_join(native, "..");
  free(native);
  return install;
}

/* `node PKG/bin/hutch runtime ARGS...`, PKG the folder above native/ (this binary's). */
static void node_verb(char **argv) {
  char *install = install_dir(), script[4200];
  snprintf(script, sizeof script, "%s/bin/hutch", install != NULL ? install : ".");
  int argc = 0;
  while (argv[argc] != NULL) argc++;
  char **args = calloc((size_t)argc + 4, sizeof *args);
  if (args == NULL) abort();
  args[0] = "node", args[1] = "--", args[2] = script, args[3] = "runtime"; /* `--`: as front-util.c exec_node */
  memcpy(args + 4, argv + 1, sizeof *args * (size_t)argc);
  execvp("node", args);
  fprintf(stderr, "hutch: cannot start: cannot run node: %s\nhint: install Node.js 20 or newer and put it on PATH\n",
          strerror(errno));
  exit(USAGE_ERROR);
}

static char **front_argv;

/* front-util.c's hand-over (front.h): only before anything changed, as every step here. */
void fall_back(const char *why) {
  (void)why;
  node_verb(front_argv);
  abort();
}

/* new Date().toISOString() */
void iso_now(char *buf, size_t size) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* --log, as src/cli/runtime/outcome.ts writeLog: a JSON line with --log-format json, else text. */
static void write_log(const struct args *a, const char *msg) {
  char now[40];
  struct out o = { 0 };
  if (a->log == NULL) return;
  iso_now(now, sizeof now);
  if (a->log_format != NULL && strcmp(a->log_format, "json") == 0) {
    out_str(&o, "{\"level\":\"error\",\"msg\":");
    out_json_str(&o, msg, strlen(msg));
    out_str(&o, ",\"time\":\""), out_str(&o, now), out_str(&o, "\"}\n");
  } else {
    out_str(&o, "time=\""), out_str(&o, now), out_str(&o, "\" level=error msg=\""), out_str(&o, msg);
    out_str(&o, "\"\n");
  }
  int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd >= 0 && write(fd, o.buf, o.len) < 0) { /* the log is a courtesy; stderr has the error too */
  }
  if (fd >= 0) close(fd);
  free(o.buf);
}

/* A HutchError as src/cli/render-error.ts prints it; returns its exit status. */
int fail(const struct args *a, const char *hint, const char *fmt, const char *id, const char *what) {
  char msg[2200];
  snprintf(msg, sizeof msg, fmt, id, what);
  write_log(a, msg);
  fprintf(stderr, "hutch: %s\nhint: %s\n", msg, hint);
  return USAGE_ERROR;
}

int not_found(const struct args *a) {
  return fail(a, "list containers with `hutch runtime list`", "container %s does not exist%s", a->id, "");
}

/* The state root (outcome.ts runtimeRoot): --root, $XDG_RUNTIME_DIR/hutch-runtime or
 * /tmp/hutch-runtime-UID, each required to be the user's own (paths.ts privateDir); -1 to Node. */
static int state_root(const struct args *a, char *root, size_t size) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  if (a->root != NULL) snprintf(root, size, "%s", a->root);
  else if (xdg != NULL && *xdg != 0) return snprintf(root, size, "%s/hutch-runtime", xdg) < (int)size ? 0 : -1;
  else snprintf(root, size, "/tmp/hutch-runtime-%u", (unsigned)getuid());
  if (a->root == NULL && mkdir(root, 0700) < 0 && errno != EEXIST) return -1;
  if (lstat(root, &st) < 0) return a->root == NULL ? -1 : 0;
  return S_ISDIR(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & S_IWOTH) ? 0 : -1;
}

int main(int argc, char **argv) {
  struct args a;
  char root[4096];
  const char *front = getenv("HUTCH_RUNTIME_FRONT"), *debug = getenv("HUTCH_DEBUG");
  front_argv = argv;
  if ((front != NULL && strcmp(front, "node") == 0) || (debug != NULL && *debug != 0)) node_verb(argv);
  if (parse_args(argc, argv, &a) < 0 || state_root(&a, root, sizeof root) < 0) node_verb(argv);
  int code = -1;
  if (strcmp(a.verb, "state") == 0) code = verb_state(&a, root);
  else if (strcmp(a.verb, "kill") == 0) code = verb_kill(&a, root);
  else if (strcmp(a.verb, "delete") == 0) code = verb_delete(&a, root);
  else if (strcmp(a.verb, "start") == 0) code = verb_start(&a, root);
  else if (strcmp(a.verb, "create") == 0) code = verb_create(&a, root);
  if (code < 0) node_verb(argv);
  return code;
}
