/*
 * hutch-run-front's registries.conf (run-front.h): what src/image/registries-conf.ts
 * loadRegistriesConf gives short-names.ts candidates, the unqualified-search-registries and the
 * aliases, read from the same files in the same order (the user's main file, else /etc's; the
 * drop-ins; the recorded aliases last). It reads a strict subset of TOML: comment and blank lines,
 * top-level unqualified-search-registries (an array of strings) and short-name-mode (a string),
 * and one [aliases] table of string values; basic strings without escapes. Anything else
 * (another key or table, [[registry]], version 1's tables, a literal or escaped string, a
 * carriage return) is the TypeScript path's, which reads it with
 * smol-toml: the subset must never read a file other than smol-toml would.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run-front.h"

struct conf {
  char **search; /* NULL-ended; NULL: none set yet (docker.io's) */
  char **alias_names, **alias_targets;
  int naliases;
};

struct reader {
  const char *file, *s;
};

static void skip_spaces(struct reader *t) {
  while (*t->s == ' ' || *t->s == '\t') t->s++;
}

/* A comment to the end of its line: TOML refuses control characters in it but the tab. */
static void skip_comment(struct reader *t) {
  if (*t->s != '#') return;
  for (t->s++; *t->s != '\0' && *t->s != '\n'; t->s++)
    if (((unsigned char)*t->s < 0x20 && *t->s != '\t') || *t->s == 0x7f) fall_back("registries.conf: a control character in a comment");
}

/* The end of a line: spaces, an optional comment, then a line break or the end of the file. */
static void end_of_line(struct reader *t) {
  skip_spaces(t);
  skip_comment(t);
  if (*t->s == '\n') t->s++;
  else if (*t->s != '\0') fall_back("registries.conf: more on a line than it reads");
}

/* A basic string without escapes (the caller frees). */
static char *basic_string(struct reader *t) {
  if (*t->s != '"') fall_back("registries.conf: a value other than a basic string");
  const char *end = t->s + 1;
  for (; *end != '"'; end++)
    if (*end == '\\' || *end == '\0' || ((unsigned char)*end < 0x20 && *end != '\t') || *end == 0x7f)
      fall_back("registries.conf: a string with an escape, a line break or a control character");
  char *v = strndup(t->s + 1, (size_t)(end - t->s - 1));
  if (v == NULL) fall_back("out of memory");
  t->s = end + 1;
  return v;
}

/* A key: bare (letters, digits, `_`, `-`; a dot would make a dotted key) or a basic string. */
static char *key_of(struct reader *t) {
  if (*t->s == '"') return basic_string(t);
  size_t n = strspn(t->s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
  if (n == 0) fall_back("registries.conf: a line it does not read");
  char *k = strndup(t->s, n);
  if (k == NULL) fall_back("out of memory");
  t->s += n;
  return k;
}

/* Blanks, line breaks and comments inside an array. */
static void skip_array_blanks(struct reader *t) {
  for (;;) {
    while (*t->s == ' ' || *t->s == '\t' || *t->s == '\n') t->s++;
    if (*t->s != '#') return;
    skip_comment(t);
  }
}

/* An array of basic strings, a trailing comma allowed (NULL-ended). */
static char **string_array(struct reader *t) {
  if (*t->s != '[') fall_back("registries.conf: unqualified-search-registries is not an array of strings");
  t->s++;
  char **items = calloc(1, sizeof *items);
  int n = 0;
  for (;;) {
    skip_array_blanks(t);
    if (*t->s == ']') break;
    char **more = realloc(items, (size_t)(n + 2) * sizeof *items);
    if (items == NULL || more == NULL) fall_back("out of memory");
    items = more;
    items[n++] = basic_string(t), items[n] = NULL;
    skip_array_blanks(t);
    if (*t->s == ',') t->s++;
    else if (*t->s != ']') fall_back("registries.conf: an array it does not read");
  }
  t->s++;
  return items;
}

static int seen(char **keys, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (strcmp(keys[i], key) == 0) return 1;
  return 0;
}

/* registries-conf.ts mergeAliases: set name by name, "" erases one. */
static void merge_alias(struct conf *c, char *name, char *target) {
  int at = 0;
  while (at < c->naliases && strcmp(c->alias_names[at], name) != 0) at++;
  if (at == c->naliases) {
    c->alias_names = realloc(c->alias_names, (size_t)(at + 1) * sizeof *c->alias_names);
    c->alias_targets = realloc(c->alias_targets, (size_t)(at + 1) * sizeof *c->alias_targets);
    if (c->alias_names == NULL || c->alias_targets == NULL) fall_back("out of memory");
    c->alias_names[c->naliases++] = name;
  }
  c->alias_targets[at] = target; /* "" stands for erased: no stored name is found through it */
}

/* registries-conf.ts applyFile and apply for one file of the subset; `aliases_only`: the recorded
   aliases file (mergeAliases alone; its other keys are not in the subset). */
static void apply_file(struct conf *c, const char *path, int aliases_only) {
  struct buf raw = {0};
  int got = read_text(path, &raw);
  if (got == -1) return; /* readToml: a missing file is none */
  if (got != 0) fall_back("registries.conf: a file it cannot read (the TypeScript path says why)");
  char *text = buf_cstr(&raw);
  if (strlen(text) != raw.len || !utf8_valid((const unsigned char *)text)) fall_back("registries.conf: a file that is not UTF-8 text");
  struct reader t = {path, text};
  char *top_keys[2], *alias_keys[4096];
  int ntop = 0, nalias = 0, in_aliases = 0, search_set = 0;
  char **search = NULL;
  while (*t.s != '\0') {
    skip_spaces(&t);
    if (*t.s == '#' || *t.s == '\n' || *t.s == '\0') {
      end_of_line(&t);
      continue;
    }
    if (*t.s == '[') {
      if (in_aliases || strncmp(t.s, "[aliases]", 9) != 0) fall_back("registries.conf: a table other than one [aliases]");
      t.s += 9, in_aliases = 1;
      end_of_line(&t);
      continue;
    }
    char *key = key_of(&t);
    skip_spaces(&t);
    if (*t.s != '=') fall_back("registries.conf: a line it does not read");
    t.s++;
    skip_spaces(&t);
    if (in_aliases) {
      if (*key == '\0' || seen(alias_keys, nalias, key) || nalias == 4096) fall_back("registries.conf: an alias it does not read");
      alias_keys[nalias++] = key;
      merge_alias(c, key, basic_string(&t));
    } else if (aliases_only || seen(top_keys, ntop, key)) {
      fall_back("registries.conf: a key it does not read");
    } else if (strcmp(key, "unqualified-search-registries") == 0) {
      top_keys[ntop++] = key, search = string_array(&t), search_set = 1;
    } else if (strcmp(key, "short-name-mode") == 0) {
      top_keys[ntop++] = key;
      char *mode = basic_string(&t); /* apply: checked though candidates does not use it */
      if (*mode != '\0' && strcmp(mode, "enforcing") != 0 && strcmp(mode, "permissive") != 0 && strcmp(mode, "disabled") != 0)
        fall_back("registries.conf: a short-name-mode the TypeScript path refuses");
    } else {
      fall_back("registries.conf: a key it does not read");
    }
    end_of_line(&t);
  }
  if (search_set) c->search = search;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* toml.ts dropIns: the `*.conf` entries of a folder in sorted order (none when it cannot be read). */
static void apply_drop_ins(struct conf *c, const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  char **names = NULL;
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 5, ".conf") != 0) continue;
    for (const char *ch = e->d_name; *ch; ch++) /* JavaScript sorts by UTF-16 units: ASCII only, where that is strcmp */
      if ((unsigned char)*ch >= 0x80) fall_back("registries.conf.d: a file name that is not ASCII");
    names = realloc(names, (size_t)(n + 1) * sizeof *names);
    if (names == NULL || (names[n++] = strdup(e->d_name)) == NULL) fall_back("out of memory");
  }
  closedir(d);
  if (n > 0) qsort(names, (size_t)n, sizeof *names, by_name);
  for (int i = 0; i < n; i++) apply_file(c, path_join(dir, names[i]), 0);
}

/* registries-conf.ts userDirs: XDG_<KIND>_HOME, else HOME/.<kind>. */
static char *user_dir(const char *variable, const char *under_home) {
  const char *v = getenv(variable), *home = getenv("HOME");
  if (v != NULL && *v != '\0') {
    if (v[0] != '/') fall_back("a relative XDG folder");
    return str_cat(v, "", "");
  }
  if (home == NULL || *home != '/') fall_back("no HOME (or a relative one)");
  return path_join(home, under_home);
}

char **search_registries(const char *name, const char **alias) {
  struct conf c = {0};
  char *user = path_join(user_dir("XDG_CONFIG_HOME", ".config"), "containers");
  char *user_main = path_join(user, "registries.conf");
  int user_first = access(user_main, F_OK) == 0; /* existsSync */
  apply_file(&c, user_first ? user_main : "/etc/containers/registries.conf", 0);
  if (!user_first) apply_drop_ins(&c, "/etc/containers/registries.conf.d");
  apply_drop_ins(&c, path_join(user, "registries.conf.d"));
  /* short-names.ts aliasesFile: the recorded resolutions, over the files' aliases */
  apply_file(&c, path_join(user_dir("XDG_CACHE_HOME", ".cache"), "containers/short-name-aliases.conf"), 1);
  *alias = NULL;
  for (int i = 0; i < c.naliases; i++)
    if (strcmp(c.alias_names[i], name) == 0 && *c.alias_targets[i] != '\0') *alias = c.alias_targets[i];
  if (c.search == NULL) c.search = calloc(1, sizeof *c.search);
  if (c.search == NULL) fall_back("out of memory");
  return c.search;
}
