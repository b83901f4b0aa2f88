/* The verbs hutch-runtime-front answers itself, step for step as src/engine/oci/state.ts
 * (ociKill, ociDelete, ociStart) and src/cli/runtime/light-verbs.ts (stateVerb) do them. Each
 * decides whether it needs Node (returns -1) before it changes anything. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "runtime-front.h"

/* `"key": ` as JSON.stringify(value, null, 2) writes a member of the top object. */
static void member(struct out *o, int *first, const char *key) {
  out_str(o, *first ? "{\n  \"" : ",\n  \""), out_str(o, key), out_str(o, "\": ");
  *first = 0;
}

/* A string member of obj printed as it is (absent: left out); -1 for another type. */
static int copy_str(struct out *o, int *first, const char *key, struct jv obj, const char *name) {
  struct jv v;
  char *s;
  size_t n;
  if (!json_member(obj, name, &v)) return 0;
  if (json_str(v, &s, &n) < 0) return -1;
  member(o, first, key), out_json_str(o, s, n), free(s);
  return 0;
}

/* spec.annotations ?? {}: an object of strings whose keys JSON.parse keeps in order; else -1. */
static int annotations(struct out *o, int *first, struct jv spec) {
  struct jv map, k, v;
  struct jiter it;
  member(o, first, "annotations");
  if (!json_member(spec, "annotations", &map) || strncmp(map.p, "null", 4) == 0) return out_str(o, "{}"), 0;
  if (*map.p != '{' || !json_keys_plain(map)) return -1;
  json_iter(&it, map);
  int any = 0;
  for (; json_next(&it, &k, &v); any = 1) {
    char *ks, *vs;
    size_t kn, vn;
    if (json_str(v, &vs, &vn) < 0) return -1;
    if (json_str(k, &ks, &kn) < 0) return free(vs), -1;
    out_str(o, any ? ",\n    " : "{\n    "), out_json_str(o, ks, kn), out_str(o, ": "), out_json_str(o, vs, vn);
    free(ks), free(vs);
  }
  out_str(o, any ? "\n  }" : "{}");
  return 0;
}

/* stateVerb's JSON: stateJson(record) with rootfs and created, two-space indented. */
static int print_state(struct out *o, const struct record *r) {
  struct jv root;
  int first = 1;
  const char *status = oci_status(r);
  char pid[32];
  if (copy_str(o, &first, "ociVersion", r->spec, "ociVersion") < 0) return -1;
  member(o, &first, "id"), out_json_str(o, r->id, strlen(r->id));
  member(o, &first, "status"), out_json_str(o, status, strlen(status));
  if (strcmp(status, "stopped") != 0 && r->pid > 0)
    snprintf(pid, sizeof pid, "%lld", r->pid), member(o, &first, "pid"), out_str(o, pid);
  if (copy_str(o, &first, "bundle", r->root, "bundle") < 0 || annotations(o, &first, r->spec) < 0) return -1;
  if (json_member(r->spec, "root", &root) && strncmp(root.p, "null", 4) != 0) {
    if (*root.p != '{' || copy_str(o, &first, "rootfs", root, "path") < 0) return -1;
  }
  if (r->created != NULL) member(o, &first, "created"), out_json_str(o, r->created, strlen(r->created));
  out_str(o, "\n}\n");
  return 0;
}

int verb_state(const struct args *a, const char *root) {
  struct record r;
  struct out o = { 0 };
  enum outcome got = read_record(root, a->id, &r);
  if (got != DONE) return got == NOT_FOUND ? not_found(a) : -1;
  if (print_state(&o, &r) < 0) return -1;
  signal(SIGPIPE, SIG_IGN); /* as Node: a reader gone is not this command's failure */
  for (size_t done = 0; done < o.len;) {
    ssize_t n = write(1, o.buf + done, o.len - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  return 0;
}

int verb_kill(const struct args *a, const char *root) {
  struct record r;
  int sig = parse_signal(a->signal != NULL ? a->signal : "TERM"); /* runc's default */
  if (sig < 0) return -1;
  enum outcome got = read_record(root, a->id, &r);
  if (got != DONE) return got == NOT_FOUND ? not_found(a) : -1;
  const char *status = oci_status(&r);
  if (strcmp(status, "created") != 0 && strcmp(status, "running") != 0)
    return fail(a, "the container has ended; delete it", "cannot signal container %s: it is %s", a->id, status);
  if (kill((pid_t)r.pid, sig) < 0)
    return fail(a, "the container has ended; delete it", "cannot signal container %s: %s", a->id, strerror(errno));
  return 0;
}

/* SIGKILL, then up to 5 s for it to be gone (a zombie counts as gone), as state.ts killAndWait. */
static void kill_and_wait(long long pid, int has_start, long long start) {
  if (!same_process(pid, has_start, start)) return;
  kill((pid_t)pid, SIGKILL);
  struct timespec tick = { 0, 25 * 1000 * 1000 };
  for (int i = 0; i < 200 && same_process(pid, has_start, start); i++) nanosleep(&tick, NULL);
}

int verb_delete(const struct args *a, const char *root) {
  struct record r;
  enum outcome got = read_record(root, a->id, &r);
  if (got == FALLBACK) return -1;
  if (got == NOT_FOUND) {
    remove_bare_entry(root, a->id);
    return a->force ? 0 : not_found(a);
  }
  const char *status = oci_status(&r);
  int creating = strcmp(status, "creating") == 0, running = strcmp(status, "running") == 0;
  if ((running || creating) && !a->force) {
    char hint[1200];
    snprintf(hint, sizeof hint, "stop it first (hutch runtime kill %s KILL), or use delete --force", a->id);
    return fail(a, hint, "cannot delete container %s: it is %s", a->id, creating ? "being created" : status);
  }
  if (removal_needs_node(&r)) return -1;
  if (creating && r.has_owner) kill_and_wait(r.owner_pid, r.owner_has_start, r.owner_start);
  if (running || strcmp(status, "created") == 0) kill_and_wait(r.pid, r.has_pid_start, r.pid_start);
  remove_entry(root, &r);
  return 0;
}

/* Lets the created process exec (it waits to open ROOT/ID/exec.fifo), then records it running:
 * the record's text with its status replaced, which is what JSON.stringify({...record, status})
 * writes for a record state.ts wrote (canonical). */
int verb_start(const struct args *a, const char *root) {
  struct record r;
  struct stat st;
  char fifo[4200], byte;
  enum outcome got = read_record(root, a->id, &r);
  if (got != DONE) return got == NOT_FOUND ? not_found(a) : -1;
  const char *status = oci_status(&r);
  if (strcmp(status, "created") != 0)
    return fail(a, strcmp(status, "stopped") == 0 ? "delete it and create it again" : "only a created container can be started",
                "cannot start container %s: it is %s", a->id, status);
  snprintf(fifo, sizeof fifo, "%s/%s/exec.fifo", root, a->id);
  if (hooks_need_node(&r, "startContainer") || hooks_need_node(&r, "poststart") || !r.canonical) return -1;
  if (lstat(fifo, &st) < 0 || !S_ISFIFO(st.st_mode)) return -1;
  int fd = open(fifo, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(a, "delete it and create it again", "cannot start container %s: %s", a->id, strerror(errno));
  if (read(fd, &byte, 1) < 0) { /* the process has opened it: that is the signal */
  }
  close(fd);
  unlink(fifo);
  struct out o = { 0 };
  out_add(&o, r.text, (size_t)(r.status_raw.p - r.text));
  out_str(&o, "\"running\"");
  out_add(&o, r.status_raw.p + r.status_raw.n, r.len - (size_t)(r.status_raw.p + r.status_raw.n - r.text));
  if (write_record_text(root, a->id, o.buf, o.len) < 0)
    return fail(a, "check the state directory (--root)", "cannot record container %s as running: %s", a->id,
                strerror(errno));
  return 0;
}
