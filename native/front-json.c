/* The JSON of the C fronts (json.h): a strict checker of a document (what JSON.parse takes, and
 * whether it is in JSON.stringify's own form: hutch-runtime-front's state.json) and lookups in the
 * checked text, strings decoded to UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

#define MAX_DEPTH 256

struct parser {
  const char *s, *end;
  int canonical, depth;
};

static int value(struct parser *j);

static void skip_ws(struct parser *j) {
  while (j->s < j->end && (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')) j->s++, j->canonical = 0;
}

static int hex4(const char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  *out = v;
  return 0;
}

/* Length of the UTF-8 sequence at s (valid, shortest form, no surrogates), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end) {
  size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
  if (s[0] < 0xc2 || s[0] > 0xf4 || (size_t)(end - s) < n) return 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
  if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
  return n;
}

/* One \uXXXX escape (and its low half): canonical only where JSON.stringify writes one. */
static int unicode_escape(struct parser *j) {
  unsigned u, low;
  if (j->end - j->s < 5 || hex4(j->s + 1, &u) < 0) return -1;
  j->s += 5;
  if (u >= 0xd800 && u <= 0xdbff) {
    if (j->end - j->s < 6 || j->s[0] != '\\' || j->s[1] != 'u' || hex4(j->s + 2, &low) < 0) return -1;
    if (low < 0xdc00 || low > 0xdfff) return -1;
    j->s += 6, j->canonical = 0;
    return 0;
  }
  if (u >= 0xdc00 && u <= 0xdfff) return -1; /* lone surrogate: Node keeps it, this reader does not */
  int short_form = u == 8 || u == 9 || u == 10 || u == 12 || u == 13;
  int lower = 1;
  for (int i = 1; i <= 4; i++) lower &= !(j->s[-i] >= 'A' && j->s[-i] <= 'F');
  if (u >= 0x20 || short_form || !lower) j->canonical = 0;
  return 0;
}

static int string(struct parser *j) {
  if (j->s >= j->end || *j->s != '"') return -1;
  for (j->s++; j->s < j->end;) {
    unsigned char c = (unsigned char)*j->s;
    if (c == '"') return j->s++, 0;
    if (c < 0x20) return -1;
    if (c >= 0x80) {
      size_t n = utf8_len((const unsigned char *)j->s, (const unsigned char *)j->end);
      if (n == 0) return -1;
      j->s += n;
    } else if (c != '\\') {
      j->s++;
    } else if (j->s + 1 < j->end && strchr("\"\\/bfnrt", j->s[1]) != NULL && j->s[1] != 0) {
      if (j->s[1] == '/') j->canonical = 0;
      j->s += 2;
    } else if (j->s + 1 < j->end && j->s[1] == 'u') {
      j->s++;
      if (unicode_escape(j) < 0) return -1;
    } else {
      return -1;
    }
  }
  return -1;
}

static int digits(struct parser *j) {
  const char *start = j->s;
  while (j->s < j->end && *j->s >= '0' && *j->s <= '9') j->s++;
  return j->s > start ? (int)(j->s - start) : -1;
}

static int number(struct parser *j) {
  const char *start = j->s;
  if (*j->s == '-') j->s++;
  if (j->s < j->end && *j->s == '0') j->s++;
  else if (digits(j) < 0) return -1;
  int integer = 1;
  if (j->s < j->end && *j->s == '.') {
    j->s++, integer = 0;
    if (digits(j) < 0) return -1;
  }
  if (j->s < j->end && (*j->s == 'e' || *j->s == 'E')) {
    j->s++, integer = 0;
    if (j->s < j->end && (*j->s == '+' || *j->s == '-')) j->s++;
    if (digits(j) < 0) return -1;
  }
  size_t n = (size_t)(j->s - start);
  if (!integer || n - (*start == '-') > 15 || (n == 2 && start[0] == '-' && start[1] == '0')) j->canonical = 0;
  return 0;
}

static int literal(struct parser *j, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(j->end - j->s) < n || memcmp(j->s, word, n) != 0) return -1;
  j->s += n;
  return 0;
}

/* Members or items up to `close`; keys (objects) checked for what JSON.parse would reorder. */
static int members(struct parser *j, char close, int object) {
  j->s++;
  skip_ws(j);
  if (j->s < j->end && *j->s == close) return j->s++, 0;
  for (;;) {
    if (object) {
      if (string(j) < 0) return -1;
      skip_ws(j);
      if (j->s >= j->end || *j->s != ':') return -1;
      j->s++;
    }
    if (value(j) < 0) return -1;
    skip_ws(j);
    if (j->s >= j->end) return -1;
    if (*j->s == close) return j->s++, 0;
    if (*j->s != ',') return -1;
    j->s++;
    skip_ws(j);
  }
}

static int value(struct parser *j) {
  skip_ws(j);
  if (j->s >= j->end) return -1;
  switch (*j->s) {
  case '{': {
    const char *start = j->s;
    if (++j->depth > MAX_DEPTH || members(j, '}', 1) < 0) return -1;
    j->depth--;
    if (j->canonical && !json_keys_plain((struct jv){ start, (size_t)(j->s - start) })) j->canonical = 0;
    return 0;
  }
  case '[':
    if (++j->depth > MAX_DEPTH || members(j, ']', 0) < 0) return -1;
    return j->depth--, 0;
  case '"': return string(j);
  case 't': return literal(j, "true");
  case 'f': return literal(j, "false");
  case 'n': return literal(j, "null");
  default: return *j->s == '-' || (*j->s >= '0' && *j->s <= '9') ? number(j) : -1;
  }
}

int json_check(const char *text, size_t len, struct jv *root, int *canonical) {
  struct parser j = { text, text + len, 1, 0 };
  skip_ws(&j);
  const char *start = j.s;
  if (value(&j) < 0) return -1;
  root->p = start, root->n = (size_t)(j.s - start);
  /* JSON.stringify(record) + "\n", as writeRecord writes it */
  *canonical = j.canonical && j.end - j.s == 1 && *j.s == '\n';
  skip_ws(&j);
  if (j.s != j.end) return -1;
  return 0;
}

/* ---- lookups in a checked document ---- */

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* The end of the (checked) value at p. */
static const char *skip(const char *p) {
  if (*p == '"') {
    for (p++; *p != '"'; p++)
      if (*p == '\\') p++;
    return p + 1;
  }
  if (*p != '{' && *p != '[') {
    while (*p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p) p++;
    return p;
  }
  int depth = 0;
  do {
    if (*p == '"') {
      p = skip(p);
      continue;
    }
    if (*p == '{' || *p == '[') depth++;
    else if (*p == '}' || *p == ']') depth--;
    p++;
  } while (depth > 0);
  return p;
}

void json_iter(struct jiter *it, struct jv container) {
  it->p = container.n > 0 && (*container.p == '{' || *container.p == '[') ? container.p + 1 : NULL;
}

int json_next(struct jiter *it, struct jv *key, struct jv *value) {
  if (it->p == NULL) return 0;
  const char *p = skip_space(it->p);
  if (*p == ',') p = skip_space(p + 1);
  if (*p == '}' || *p == ']') return it->p = NULL, 0;
  key->p = NULL, key->n = 0;
  if (*p == '"' && *skip_space(skip(p)) == ':') {
    key->p = p, key->n = (size_t)(skip(p) - p);
    p = skip_space(skip_space(skip(p)) + 1);
  }
  value->p = p, value->n = (size_t)(skip(p) - p);
  it->p = p + value->n;
  return 1;
}

int json_member(struct jv obj, const char *key, struct jv *out) {
  struct jiter it;
  struct jv k, v;
  int found = 0;
  if (obj.n == 0 || *obj.p != '{') return 0;
  json_iter(&it, obj);
  while (json_next(&it, &k, &v)) {
    char *name;
    size_t n;
    if (json_str(k, &name, &n) < 0) continue;
    if (n == strlen(key) && memcmp(name, key, n) == 0) *out = v, found = 1;
    free(name);
  }
  return found;
}

static void put_utf8(char **o, unsigned u) {
  unsigned char *b = (unsigned char *)*o;
  if (u < 0x80) *b++ = (unsigned char)u;
  else if (u < 0x800) *b++ = 0xc0 | (u >> 6), *b++ = 0x80 | (u & 0x3f);
  else if (u < 0x10000) *b++ = 0xe0 | (u >> 12), *b++ = 0x80 | ((u >> 6) & 0x3f), *b++ = 0x80 | (u & 0x3f);
  else
    *b++ = 0xf0 | (u >> 18), *b++ = 0x80 | ((u >> 12) & 0x3f), *b++ = 0x80 | ((u >> 6) & 0x3f),
    *b++ = 0x80 | (u & 0x3f);
  *o = (char *)b;
}

static char unescape(char c) {
  switch (c) {
  case 'b': return '\b';
  case 'f': return '\f';
  case 'n': return '\n';
  case 'r': return '\r';
  case 't': return '\t';
  default: return c; /* " \\ / */
  }
}

int json_str(struct jv v, char **out, size_t *len) {
  if (v.n < 2 || *v.p != '"') return -1;
  char *buf = malloc(v.n), *o = buf; /* decoding never lengthens */
  if (buf == NULL) return -1;
  for (const char *p = v.p + 1, *end = v.p + v.n - 1; p < end;) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    if (p[1] != 'u') {
      *o++ = unescape(p[1]), p += 2;
      continue;
    }
    unsigned u, low;
    hex4(p + 2, &u), p += 6;
    if (u >= 0xd800 && u <= 0xdbff) hex4(p + 2, &low), p += 6, u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
    put_utf8(&o, u);
  }
  *o = 0, *out = buf, *len = (size_t)(o - buf);
  return 0;
}

int json_int(struct jv v, long long *out) {
  size_t i = v.n > 0 && *v.p == '-';
  if (v.n == i || v.n - i > 15) return 0;
  for (size_t k = i; k < v.n; k++)
    if (v.p[k] < '0' || v.p[k] > '9') return 0;
  *out = strtoll(v.p, NULL, 10);
  return !(i == 1 && *out == 0);
}

int json_keys_plain(struct jv obj) {
  struct jiter it, other;
  struct jv k, v, k2, v2;
  json_iter(&it, obj);
  for (int i = 0; json_next(&it, &k, &v); i++) {
    if (k.n > 2 && strspn(k.p + 1, "0123456789") == k.n - 2) return 0; /* an index: JSON.parse moves it first */
    json_iter(&other, obj);
    for (int m = 0; m < i && json_next(&other, &k2, &v2); m++)
      if (k2.n == k.n && memcmp(k2.p, k.p, k.n) == 0) return 0;
  }
  return 1;
}
