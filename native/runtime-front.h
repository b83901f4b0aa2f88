/* hutch-runtime-front: bin/hutch-runtime's C front (runtime-front.c says what it does). Shared
 * between its files: the record store (runtime-front-record.c),
 * the command line (runtime-front-args.c), the verbs (runtime-front-verbs.c), and main, output and
 * errors (runtime-front.c). */
#ifndef HUTCH_RUNTIME_FRONT_H
#define HUTCH_RUNTIME_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

/* What a step answers: done, the container does not exist, or "let Node do this" (nothing was
 * changed yet, so the Node verb does the whole command as if the front were not there). */
enum outcome { DONE = 0, NOT_FOUND = 1, FALLBACK = 2 };

/* ---- output (runtime-front.c) ---- */

/* A growing buffer; out_json_str appends `s` as JSON.stringify writes a string. */
struct out {
  char *buf;
  size_t len, cap;
};
void out_add(struct out *o, const char *s, size_t n);
void out_str(struct out *o, const char *s);
void out_json_str(struct out *o, const char *s, size_t n);

/* ---- the record store (runtime-front-record.c) ---- */

/* A record (src/engine/oci/state.ts, OciRecord) as the verbs need it. */
struct record {
  char *text;
  size_t len;
  int canonical;
  struct jv root, spec, status_raw;
  char *id, *status, *created; /* created NULL when absent */
  long long pid, pid_start, owner_pid, owner_start;
  int has_pid_start, has_owner, owner_has_start, has_cgroup;
};

int same_process(long long pid, int has_start, long long start);
const char *oci_status(const struct record *r);
/* Reads ROOT/ID/state.json; a leftover of a killed runtime is removed and is NOT_FOUND. */
enum outcome read_record(const char *root, const char *id, struct record *r);
/* Claims ROOT/ID by renaming it away and removes it (no cgroup or hooks: checked before). */
void remove_entry(const char *root, const struct record *r);
/* Whether removing the entry needs Node (a cgroup, poststop hooks). */
int removal_needs_node(const struct record *r);
/* 1 when spec.hooks.KIND has hooks or is anything but absent or []: the command goes to Node. */
int hooks_need_node(const struct record *r, const char *kind);
/* runc's delete of a folder without state.json, under the root's lock (state.ts ociLockFile). */
void remove_bare_entry(const char *root, const char *id);
/* Writes ROOT/ID/state.json as state.ts's writeRecord does (a temporary file, then rename). */
int write_record_text(const char *root, const char *id, const char *text, size_t len);
int valid_id(const char *id);
void rm_tree(const char *path);

/* ---- create's config.json and plan (runtime-front-spec.c) ---- */

struct spec;
struct buf;
/* What the plan takes besides the spec: root.path resolved, the start fifo, the compiled filter (or NULL). */
struct create_plan {
  const char *rootfs, *fifo, *console; /* console: --console-socket, or NULL */
  const struct buf *seccomp;
};
/* The checked document's spec in the shapes the front creates (a terminal only with `console`, a
   --console-socket given); -1 for anything else (Node's). */
int spec_read(struct jv doc, int console, struct spec **out);
/* Whether the spec asks for a terminal (its helper then has /dev/null for stdio, as Node's). */
int spec_terminal(const struct spec *s);
/* The spec's own user namespace's map of `kind` (0 uid, 1 gid) as /proc/PID/KIND_map takes it, and
   whether it is the caller's id `own` alone; 0 when the container makes no user namespace. */
int spec_id_map(const struct spec *s, int kind, uint32_t own, char **text, int *own_alone);
/* The helper's plan for it, as nsexec.ts encodePlan writes it; -1 for what Node refuses or words. */
int spec_plan(const struct spec *s, const struct create_plan *in, struct buf *plan);

/* ---- the command line (runtime-front-args.c) ---- */

struct args {
  const char *root, *log, *log_format, *verb, *id, *signal;
  const char *bundle, *pid_file, *console_socket; /* create's */
  int force, systemd_cgroup;
};

/* 0, or -1 for a line the front leaves to Node. */
int parse_args(int argc, char **argv, struct args *a);
/* A signal number, or -1 for a name the front leaves to Node (which takes it or refuses it). */
int parse_signal(const char *value);

/* ---- the verbs (runtime-front-verbs.c) and their errors (runtime-front.c) ---- */

#define USAGE_ERROR 125 /* HutchError's exit status */

/* Each returns the exit status, or -1 to hand the command to Node (nothing changed yet). */
int verb_state(const struct args *a, const char *root);
int verb_kill(const struct args *a, const char *root);
int verb_delete(const struct args *a, const char *root);
int verb_start(const struct args *a, const char *root);
int verb_create(const struct args *a, const char *root);
/* Prints `hutch: MSG` (fmt with the id and `what`) and `hint: HINT`, logs it (--log); 125. */
int fail(const struct args *a, const char *hint, const char *fmt, const char *id, const char *what);
int not_found(const struct args *a);
/* The package's folder (native/..), malloc'd; NULL when /proc/self/exe cannot be read. */
char *install_dir(void);
/* new Date().toISOString() */
void iso_now(char *buf, size_t size);

#endif
