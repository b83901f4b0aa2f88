/* The record store as hutch-runtime-front reads it: the same files and steps as
 * src/engine/oci/state.ts (the format's owner; docs/oci-records.md): ROOT/ID/state.json, a process
 * told by its pid and start time, a leftover (owner and process both gone) removed on sight, an
 * entry removed by claiming it with a rename, a folder without state.json removed under the root's
 * lock ROOT/.lock. Anything the front does not handle (a cgroup, hooks, a record of another shape)
 * is FALLBACK, decided before anything is changed. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "proc-start.h"
#include "runtime-front.h"

int same_process(long long pid, int has_start, long long start) {
  if (pid <= 0) return 0;
  long long now = process_start(pid);
  return now >= 0 && (!has_start || now == start);
}

const char *oci_status(const struct record *r) {
  if (strcmp(r->status, "creating") == 0) return "creating";
  return same_process(r->pid, r->has_pid_start, r->pid_start) ? r->status : "stopped";
}

static int is_leftover(const struct record *r) {
  return r->has_owner && !same_process(r->owner_pid, r->owner_has_start, r->owner_start) &&
         !same_process(r->pid, r->has_pid_start, r->pid_start);
}

#define WORD "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

/* state.ts checkId: /^[\w][\w.+-]*$/, at most 1024 characters. */
int valid_id(const char *id) {
  size_t n = strlen(id);
  return n > 0 && n <= 1024 && strchr(WORD, id[0]) != NULL && strspn(id + 1, WORD ".+-") == n - 1;
}

static int read_file(const char *path, char **text, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  for (ssize_t got = 1; buf != NULL && got > 0;) {
    if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    if (buf == NULL) break;
    got = read(fd, buf + n, cap - n - 1);
    if (got < 0) n = (size_t)-1;
    else n += (size_t)got;
    if (got < 0) break;
  }
  close(fd);
  if (buf == NULL || n == (size_t)-1) return free(buf), -1;
  buf[n] = 0, *text = buf, *len = n;
  return 0;
}

/* A number member that is absent (0) or an integer (1); -1 for anything else. */
static int int_member(struct jv obj, const char *key, long long *out) {
  struct jv v;
  if (!json_member(obj, key, &v)) return 0;
  return json_int(v, out) ? 1 : -1;
}

/* A string member, decoded; NULL-and-0 when absent, -1 for another type or a NUL inside. */
static int str_member(struct jv obj, const char *key, char **out) {
  struct jv v;
  size_t n;
  *out = NULL;
  if (!json_member(obj, key, &v)) return 0;
  if (json_str(v, out, &n) < 0) return -1;
  if (strlen(*out) != n) return free(*out), *out = NULL, -1;
  return 1;
}

/* OciRecord's fields (state.ts RECORD_FIELDS; test/unit/engine/oci-record-fields.test.ts holds
 * both lists equal): a record with another one is of a newer format, for Node. */
static const char *const RECORD_FIELDS[] = { "id", "bundle", "spec", "pid", "pidStart", "created", "status",
                                              "cgroup", "owner", NULL };

static int known_fields(struct jv obj) {
  struct jiter it;
  struct jv k, v;
  json_iter(&it, obj);
  while (json_next(&it, &k, &v)) {
    int known = 0;
    for (const char *const *f = RECORD_FIELDS; *f != NULL && !known; f++)
      known = k.n == strlen(*f) + 2 && memcmp(k.p + 1, *f, k.n - 2) == 0;
    if (!known) return 0;
  }
  return 1;
}

/* The fields the verbs use, of the types state.ts writes; -1 for any other shape. */
static int fields(struct record *r) {
  struct jv owner, cgroup;
  if (*r->root.p != '{' || !known_fields(r->root)) return -1;
  if (!json_member(r->root, "spec", &r->spec) || *r->spec.p != '{') return -1;
  if (str_member(r->root, "id", &r->id) != 1 || str_member(r->root, "status", &r->status) != 1) return -1;
  if (str_member(r->root, "created", &r->created) < 0 || int_member(r->root, "pid", &r->pid) < 0) return -1;
  json_member(r->root, "status", &r->status_raw);
  if ((r->has_pid_start = int_member(r->root, "pidStart", &r->pid_start)) < 0) return -1;
  r->has_cgroup = json_member(r->root, "cgroup", &cgroup);
  if ((r->has_owner = json_member(r->root, "owner", &owner))) {
    if (*owner.p != '{' || int_member(owner, "pid", &r->owner_pid) != 1) return -1;
    if ((r->owner_has_start = int_member(owner, "start", &r->owner_start)) < 0) return -1;
  }
  return 0;
}

static void free_record(struct record *r) {
  free(r->text), free(r->id), free(r->status), free(r->created);
  memset(r, 0, sizeof *r);
}

/* Parses ROOT/ID/state.json (or a claimed copy of it) into r: NOT_FOUND when unreadable. */
static enum outcome parse_record(const char *path, struct record *r) {
  memset(r, 0, sizeof *r);
  if (read_file(path, &r->text, &r->len) < 0) return NOT_FOUND;
  if (json_check(r->text, r->len, &r->root, &r->canonical) < 0 || fields(r) < 0) return free_record(r), FALLBACK;
  return DONE;
}

enum outcome read_record(const char *root, const char *id, struct record *r) {
  char path[4096];
  if (!valid_id(id) || snprintf(path, sizeof path, "%s/%s/state.json", root, id) >= (int)sizeof path) return FALLBACK;
  enum outcome got = parse_record(path, r);
  if (got != DONE) return got;
  if (strcmp(r->id, id) != 0) return free_record(r), FALLBACK;
  if (!is_leftover(r)) return DONE;
  if (removal_needs_node(r)) return free_record(r), FALLBACK;
  remove_entry(root, r);
  free_record(r);
  return NOT_FOUND;
}

int hooks_need_node(const struct record *r, const char *kind) {
  struct jv hooks, list;
  if (!json_member(r->spec, "hooks", &hooks) || strncmp(hooks.p, "null", 4) == 0) return 0;
  if (*hooks.p != '{') return 1;
  if (!json_member(hooks, kind, &list)) return 0;
  return !(list.n >= 2 && *list.p == '[' && *(list.p + list.n - 1) == ']' && strspn(list.p + 1, " \t\r\n") == list.n - 2);
}

int removal_needs_node(const struct record *r) {
  return r->has_cgroup || (r->pid > 0 && hooks_need_node(r, "poststop"));
}

/* Whether DIR/state.json is still the record r (state.ts sameEntry): same created, same owner pid. */
static int same_entry(const char *dir, const struct record *r) {
  char path[4096];
  struct record now;
  snprintf(path, sizeof path, "%s/state.json", dir);
  if (parse_record(path, &now) != DONE) return 0;
  int same = (now.created == NULL ? r->created == NULL : r->created != NULL && strcmp(now.created, r->created) == 0) &&
             now.has_owner == r->has_owner && (!r->has_owner || now.owner_pid == r->owner_pid);
  free_record(&now);
  return same;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  if (type == FTW_DP) rmdir(path);
  else unlink(path);
  return 0;
}

void rm_tree(const char *path) {
  nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

void remove_entry(const char *root, const struct record *r) {
  char dir[4096], gone[4096];
  struct timeval tv;
  gettimeofday(&tv, NULL);
  snprintf(dir, sizeof dir, "%s/%s", root, r->id);
  snprintf(gone, sizeof gone, "%s/.gone-%s-%d-%lld", root, r->id, (int)getpid(),
           (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000);
  if (!same_entry(dir, r) || rename(dir, gone) < 0) return; /* gone, or another command claimed it */
  if (!same_entry(gone, r)) {
    rename(gone, dir); /* a new container of that id came in between: not ours */
    return;
  }
  rm_tree(gone);
}

void remove_bare_entry(const char *root, const char *id) {
  char lock[4096], dir[4096], state[4096];
  struct stat st;
  snprintf(lock, sizeof lock, "%s/.lock", root);
  snprintf(dir, sizeof dir, "%s/%s", root, id);
  snprintf(state, sizeof state, "%s/%s/state.json", root, id);
  char *slash = root[0] == 0 ? NULL : strdup(root);
  for (char *p = slash == NULL ? NULL : strchr(slash + 1, '/'); p != NULL; p = strchr(p + 1, '/'))
    *p = 0, mkdir(slash, 0777), *p = '/';
  if (slash != NULL) mkdir(slash, 0777), free(slash);
  int fd = open(lock, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0 || flock(fd, LOCK_EX) < 0) {
    if (fd >= 0) close(fd);
    return;
  }
  if (stat(dir, &st) == 0 && stat(state, &st) < 0) rm_tree(dir);
  close(fd);
}

int write_record_text(const char *root, const char *id, const char *text, size_t len) {
  char path[4096], temp[4096];
  snprintf(path, sizeof path, "%s/%s/state.json", root, id);
  snprintf(temp, sizeof temp, "%s/%s/.state.json.tmp-%d-%lx", root, id, (int)getpid(), (unsigned long)random());
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, len);
  if (close(fd) < 0 || n != (ssize_t)len || rename(temp, path) < 0) return unlink(temp), -1;
  return 0;
}
