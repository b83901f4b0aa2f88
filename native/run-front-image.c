/*
 * hutch-run-front's image (run-front.h): what src/image/resolve.ts findInStores, describeImage and
 * readConfig, src/engine/spec/image-config.ts applyImageConfig and userDatabase, and
 * src/image/store.ts markImageUsed do for `run IMAGE` with the image in the user's own store.
 * The reference is taken where its stored name is its own text (a registry host, no digest, no
 * normalisation), or where it is a short name whose registries.conf the front reads
 * (run-front-registries.c); an id prefix or a digest is the TypeScript path's; one the store lacks
 * may be pulled, or found in another store. Everything here is read before anything is made, so
 * each of those hands over with nothing to undo.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "run-front.h"

static int lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ref.ts COMPONENT: [a-z0-9]+ runs joined by one of `.`, `_`, `__` or a run of `-`. */
static int component(const char *s, size_t n) {
  for (size_t i = 0;;) {
    size_t run = 0;
    while (i + run < n && lower_alnum(s[i + run])) run++;
    if (run == 0) return 0;
    if ((i += run) == n) return 1;
    size_t sep = 1;
    if (s[i] == '-') {
      while (i + sep < n && s[i + sep] == '-') sep++;
    } else if (s[i] == '_') sep = i + 1 < n && s[i + 1] == '_' ? 2 : 1;
    else if (s[i] != '.') return 0;
    i += sep;
  }
}

/* ref.ts TAG: a word character, then up to 127 of word characters, `.` and `-`. */
static int tag_valid(const char *t) {
  size_t n = strlen(t);
  return n >= 1 && n <= 128 && t[0] != '.' && t[0] != '-' &&
         strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* ref.ts splitReference's path check: each `/`-separated component of s[0, n) a COMPONENT. */
static int path_valid(const char *s, size_t n) {
  for (const char *c = s;;) {
    const char *next = memchr(c, '/', (size_t)(s + n - c));
    if (!component(c, next != NULL ? (size_t)(next - c) : (size_t)(s + n - c))) return 0;
    if (next == NULL) return 1;
    c = next + 1;
  }
}

/* A host of lower-case labels with an optional port (the subset of ref.ts HOST whose name
   formatReference writes as it is given; docker.io's own normalisation excluded). */
static int host_plain(const char *h, size_t n) {
  const char *colon = memchr(h, ':', n);
  size_t name = colon != NULL ? (size_t)(colon - h) : n;
  if (colon != NULL && (n - name < 2 || strspn(colon + 1, "0123456789") != n - name - 1)) return 0;
  size_t label = 0;
  for (size_t i = 0; i < name; i++) {
    if (h[i] == '.' && label == 0) return 0;
    if (h[i] != '.' && !lower_alnum(h[i]) && h[i] != '-') return 0;
    label = h[i] == '.' ? 0 : label + 1;
  }
  return label > 0;
}

/* resolve.ts namesFor for a qualified reference: ref.ts parseReference then formatReference, which
   give back `text` itself (with `:latest` when it has no tag). NULL for anything else. */
static char *stored_name(const char *text) {
  if (strchr(text, '@') != NULL || strncmp(text, "docker://", 9) == 0) return NULL;
  const char *slash = strchr(text, '/'), *last_slash = strrchr(text, '/'), *colon = strrchr(text, ':');
  if (slash == NULL) return NULL; /* a short name: registries.conf's */
  const char *tag = colon != NULL && colon > last_slash ? colon + 1 : NULL;
  size_t end = tag != NULL ? (size_t)(colon - text) : strlen(text), host = (size_t)(slash - text);
  int qualified = memchr(text, '.', host) != NULL || memchr(text, ':', host) != NULL ||
                  (host == 9 && strncmp(text, "localhost", 9) == 0);
  if (!qualified || !host_plain(text, host)) return NULL;
  if (host == 15 && strncmp(text, "index.docker.io", 15) == 0) return NULL;
  const char *path = slash + 1;
  if (host == 9 && strncmp(text, "docker.io", 9) == 0 && memchr(path, '/', (size_t)(text + end - path)) == NULL)
    return NULL; /* docker.io's library/ */
  if (!path_valid(path, (size_t)(text + end - path)) || (tag != NULL && !tag_valid(tag))) return NULL;
  return tag != NULL ? str_cat(text, "", "") : str_cat(text, ":latest", "");
}

/* resolve.ts namesFor for a short name (ref.ts splitReference finds no registry host in it):
   short-names.ts candidates (its alias, then each search registry's, docker.io's when none is
   set) and localhost's, each as formatReference writes it; NULL-ended. NULL when `text` names a
   registry. */
static char **short_names(const char *text) {
  if (strchr(text, '@') != NULL || strncmp(text, "docker://", 9) == 0) return NULL;
  const char *slash = strchr(text, '/'), *last_slash = strrchr(text, '/'), *colon = strrchr(text, ':');
  const char *tag = colon != NULL && (last_slash == NULL || colon > last_slash) ? colon + 1 : NULL;
  size_t end = tag != NULL ? (size_t)(colon - text) : strlen(text);
  if (slash != NULL) {
    size_t host = (size_t)(slash - text);
    if (memchr(text, '.', host) != NULL || memchr(text, ':', host) != NULL || (host == 9 && strncmp(text, "localhost", 9) == 0))
      return NULL;
  }
  if (!path_valid(text, end) || (tag != NULL && !tag_valid(tag)))
    fall_back("an invalid image reference (the TypeScript path says why)");
  char *path = strndup(text, end);
  const char *alias, *tag_text = tag != NULL ? tag : "latest";
  char **search = search_registries(path, &alias);
  int nsearch = 0;
  while (search[nsearch] != NULL) nsearch++;
  char **names = calloc((size_t)nsearch + 4, sizeof *names), **out = names;
  if (path == NULL || names == NULL) fall_back("out of memory");
  /* short-names.ts aliasOf: the target with the name's own tag */
  if (alias != NULL && (*out++ = stored_name(tag != NULL ? str_cat(alias, ":", tag) : alias)) == NULL)
    fall_back("an alias whose stored name it does not write (the TypeScript path's)");
  const char *docker_io[] = {"docker.io", NULL};
  for (char **r = nsearch > 0 ? search : (char **)docker_io; *r != NULL; r++) { /* ref.ts parseReference(text, registry) */
    if (strcmp(*r, "index.docker.io") == 0) fall_back("index.docker.io as a search registry");
    const char *library = strcmp(*r, "docker.io") == 0 && strchr(path, '/') == NULL ? "library/" : "";
    *out++ = str_cat(str_cat(*r, "/", library), path, str_cat(":", tag_text, ""));
  }
  *out = str_cat("localhost/", path, str_cat(":", tag_text, ""));
  return names;
}

/* sha256:<64 lower-case hex> (manifest.ts checkDigest's form): what a folder is named after. */
static int digest_valid(const char *d) {
  return strncmp(d, "sha256:", 7) == 0 && strlen(d) == 71 && strspn(d + 7, "0123456789abcdef") == 64;
}

/* A JSON string as a C string: NULL when it is no string or holds a NUL. */
static char *string_of(struct jv v) {
  char *s;
  size_t n;
  if (json_str(v, &s, &n) != 0) return NULL;
  if (strlen(s) != n) return free(s), NULL;
  return s;
}

/* A member that is absent or null (JavaScript's `?? default`). */
static int nullish(struct jv obj, const char *key, struct jv *out) {
  if (!json_member(obj, key, out)) return 1;
  return out->n == 4 && memcmp(out->p, "null", 4) == 0;
}

/* An array of strings (NULL-ended, *n of them), or fall_back. */
static char **strings_of(struct jv v, int *n, const char *what) {
  if (v.n == 0 || *v.p != '[') fall_back(what);
  struct jiter it;
  struct jv k, item;
  int count = 0;
  json_iter(&it, v);
  while (json_next(&it, &k, &item)) count++;
  char **out = calloc((size_t)count + 1, sizeof *out);
  if (out == NULL) fall_back("out of memory");
  json_iter(&it, v);
  for (int i = 0; json_next(&it, &k, &item); i++)
    if ((out[i] = string_of(item)) == NULL) fall_back(what);
  *n = count;
  return out;
}

/* A whole JSON document from a file, or fall_back with `what`. */
static struct jv document(const char *path, const char *what) {
  struct buf raw = {0};
  struct jv root;
  int canonical;
  if (read_text(path, &raw) != 0 || json_check(raw.p, raw.len, &root, &canonical) != 0) fall_back(what);
  return root;
}

/* store.ts images() and resolve.ts findImage: the first image one of whose names is in `wanted`. */
static struct jv find_record(const char *data, char **wanted) {
  struct jv root = document(path_join(data, "images.json"), "an image store without the image, or one it does not read");
  struct jv images, image, key, names, item;
  if (!json_member(root, "images", &images) || images.n == 0 || *images.p != '[') fall_back("an images.json it does not read");
  struct jiter it, in;
  json_iter(&it, images);
  while (json_next(&it, &key, &image)) {
    if (image.n == 0 || *image.p != '{' || !json_member(image, "names", &names) || *names.p != '[')
      fall_back("an images.json record it does not read");
    json_iter(&in, names);
    while (json_next(&in, &key, &item)) {
      char *n = string_of(item);
      if (n == NULL) fall_back("an images.json record it does not read");
      int same = 0;
      for (char **w = wanted; *w != NULL && !same; w++) same = strcmp(n, *w) == 0;
      free(n);
      if (same) return image;
    }
  }
  fall_back("an image the store lacks (pulled, or found in another store, by the TypeScript path)");
}

static char *digest_member(struct jv obj, const char *key) {
  struct jv v;
  char *d = json_member(obj, key, &v) ? string_of(v) : NULL;
  if (d == NULL || !digest_valid(d)) fall_back("an image record whose digest it does not read");
  return d;
}

/* image-config.ts applyImageConfig: the entrypoint with the given command, else with Cmd
   (--entrypoint: its one word, none for "", in the Entrypoint's place, and no Cmd: docker's rule);
   the image's Env before -e; WorkingDir and User where no flag gave them. */
static void apply_config(struct run *r, struct jv config) {
  struct jv c, v;
  if (nullish(config, "config", &c)) c = (struct jv){"{}", 2};
  if (*c.p != '{') fall_back("an image config it does not read");
  int nentry = 0, ncmd = 0, nenv = 0, nargs = 0;
  char **entry = nullish(c, "Entrypoint", &v) ? calloc(1, sizeof(char *)) : strings_of(v, &nentry, "an Entrypoint it does not read");
  char **cmd = nullish(c, "Cmd", &v) ? calloc(1, sizeof(char *)) : strings_of(v, &ncmd, "a Cmd it does not read");
  char **env = nullish(c, "Env", &v) ? calloc(1, sizeof(char *)) : strings_of(v, &nenv, "an Env it does not read");
  if (entry == NULL || cmd == NULL || env == NULL) fall_back("out of memory");
  static char *flag_entry[2];
  if (r->entrypoint != NULL) { /* its word in the Entrypoint's place, none for "", and no Cmd */
    flag_entry[0] = (char *)r->entrypoint;
    entry = flag_entry, nentry = *r->entrypoint != '\0', ncmd = 0;
  }
  while (r->args[nargs] != NULL) nargs++;
  char **given = nargs > 0 ? r->args : cmd;
  int ngiven = nargs > 0 ? nargs : ncmd;
  if (nentry + ngiven == 0) fall_back("an image with no Entrypoint or Cmd and no command (the TypeScript path says so)");
  char **args = calloc((size_t)(nentry + ngiven) + 1, sizeof *args);
  const char **all_env = calloc((size_t)(nenv + r->nenv) + 1, sizeof *all_env);
  if (args == NULL || all_env == NULL) fall_back("out of memory");
  memcpy(args, entry, (size_t)nentry * sizeof *args), memcpy(args + nentry, given, (size_t)ngiven * sizeof *args);
  r->args = args;
  memcpy(all_env, env, (size_t)nenv * sizeof *all_env), memcpy(all_env + nenv, r->env, (size_t)r->nenv * sizeof *all_env);
  r->env = all_env, r->nenv += nenv;
  /* `c.WorkingDir || undefined`, `c.User || undefined`: an empty one is none */
  char *workdir = nullish(c, "WorkingDir", &v) ? NULL : string_of(v), *user = nullish(c, "User", &v) ? NULL : string_of(v);
  if ((!nullish(c, "WorkingDir", &v) && workdir == NULL) || (!nullish(c, "User", &v) && user == NULL))
    fall_back("a WorkingDir or User it does not read");
  if (r->workdir == NULL && workdir != NULL && *workdir != '\0') {
    if (workdir[0] != '/') fall_back("a relative WorkingDir");
    r->workdir = workdir;
  }
  if (r->user_spec == NULL && user != NULL && *user != '\0') r->user_spec = user;
  /* Declared volumes are anonymous volumes (binds of folders under the container's data): the TypeScript path's. */
  if (!nullish(c, "Volumes", &v) && !(v.n >= 2 && *v.p == '{' && strspn(v.p + 1, " \t\r\n") == v.n - 2))
    fall_back("an image that declares Volumes");
  /* exposedPorts: Object.keys in order (no index-like key, which JSON.parse moves first) */
  struct image *im = &r->image;
  if (!nullish(c, "ExposedPorts", &v)) {
    if (*v.p != '{' || !json_keys_plain(v)) fall_back("ExposedPorts it does not read");
    struct jiter it;
    struct jv k, x;
    json_iter(&it, v);
    while (json_next(&it, &k, &x)) im->nexposed++;
    im->exposed = calloc((size_t)im->nexposed + 1, sizeof *im->exposed);
    if (im->exposed == NULL) fall_back("out of memory");
    json_iter(&it, v);
    for (int i = 0; json_next(&it, &k, &x); i++)
      if ((im->exposed[i] = string_of(k)) == NULL) fall_back("ExposedPorts it does not read");
  }
}

void find_image(struct run *r) {
  struct image *im = &r->image;
  char *name = stored_name(im->ref), *one[] = {name, NULL}, **names = name != NULL ? one : short_names(im->ref);
  if (names == NULL) fall_back("an image reference other than a stored name (registry/path[:tag]) or a short name");
  struct jv record = find_record(r->data, names), layers, layer, key;
  im->id = digest_member(record, "id");
  char *config_digest = digest_member(record, "config");
  if (!json_member(record, "layers", &layers) || layers.n == 0 || *layers.p != '[') fall_back("an image record it does not read");
  struct jiter it;
  json_iter(&it, layers);
  while (json_next(&it, &key, &layer)) im->nlayers++;
  im->layers = calloc((size_t)im->nlayers + 1, sizeof *im->layers);
  if (im->layers == NULL) fall_back("out of memory");
  json_iter(&it, layers);
  for (int i = 0; json_next(&it, &key, &layer); i++) { /* store.ts layerRoot, layerIndex */
    if (*layer.p != '{') fall_back("an image record it does not read");
    im->layers[i].diff_id = digest_member(layer, "diffId");
    char *dir = str_cat(r->data, "/layers/sha256/", im->layers[i].diff_id + 7);
    im->layers[i].dir = path_join(dir, "root"), im->layers[i].index = path_join(dir, "index.hli");
  }
  /* manifest.ts parseConfig: rootfs.diff_ids lists as many digests as the record has layers */
  struct jv config = document(str_cat(r->data, "/blobs/sha256/", config_digest + 7), "an image config it does not read");
  struct jv rootfs, ids, id;
  if (config.n == 0 || *config.p != '{' || !json_member(config, "rootfs", &rootfs) || *rootfs.p != '{' ||
      !json_member(rootfs, "diff_ids", &ids) || *ids.p != '[')
    fall_back("an image config without rootfs.diff_ids");
  int count = 0;
  json_iter(&it, ids);
  for (; json_next(&it, &key, &id); count++) {
    char *d = string_of(id);
    if (d == NULL || !digest_valid(d)) fall_back("an image config whose diff_ids it does not read");
    free(d);
  }
  if (count != im->nlayers) fall_back("an image config whose diff_ids do not list its layers (the TypeScript path says so)");
  apply_config(r, config);
}

/* image-config.ts userDatabase: /etc/NAME of the topmost layer that has it, each layer a tree of its
   own read as in-root.ts readFileInRoot reads it (links resolved inside the layer, the last
   component opened without following one, a regular file only; else the layer below). Missing
   everywhere: empty. */
char *image_etc_text(const struct image *im, const char *name) {
  char *path = str_cat("/etc/", name, "");
  for (int i = im->nlayers - 1; i >= 0; i--) {
    char *found = resolve_in_root(im->layers[i].dir, path);
    int fd = found != NULL ? open(found, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
    free(found);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (fd >= 0) close(fd);
      continue;
    }
    struct buf raw = {0};
    char chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_add(&raw, chunk, (size_t)n);
    close(fd);
    if (n < 0) continue; /* readFileSync's error: undefined, the layer below */
    char *text = buf_cstr(&raw);
    if (strlen(text) != raw.len || !utf8_valid((unsigned char *)text)) fall_back("an /etc/passwd or /etc/group that is not text");
    return text;
  }
  return str_cat("", "", "");
}

int mark_image(const struct run *r) {
  return atomic_write(str_cat(r->data, "/image-users/", str_cat(r->image.id + 7, "/", r->id)), str_cat(r->id, "\n", ""), 1);
}

void unmark_image(const struct run *r) {
  unlink(str_cat(r->data, "/image-users/", str_cat(r->image.id + 7, "/", r->id)));
}
