/* The JSON reader the C fronts share (front-json.c): hutch-runtime-front's record store
 * (state.json) and hutch-run-front's image store (images.json, an image's config). */
#ifndef HUTCH_JSON_H
#define HUTCH_JSON_H

#include <stddef.h>

/* The text of one value of a checked document (first byte tells its type). */
struct jv {
  const char *p;
  size_t n;
};

/* Checks a whole document as JSON.parse would take it, and whether it is exactly what
 * JSON.stringify(JSON.parse(text)) + "\n" gives back (canonical): no white space, integers of at
 * most 15 digits, the escapes JSON.stringify writes, no duplicate or all-digit keys. -1 for text
 * JSON.parse refuses and for what it takes but this reader does not (lone surrogates, invalid
 * UTF-8, deep nesting): the caller then hands the command to Node. */
int json_check(const char *text, size_t len, struct jv *root, int *canonical);

/* The value of `key` in object `obj` (the last one, as JSON.parse keeps); 0 when absent. */
int json_member(struct jv obj, const char *key, struct jv *out);

/* Walks an object's members or an array's items: json_next gives 0 at the end. */
struct jiter {
  const char *p;
};
void json_iter(struct jiter *it, struct jv container);
int json_next(struct jiter *it, struct jv *key, struct jv *value);

/* A string value decoded to UTF-8 (malloc'd, NUL-terminated; *len without it); -1 for a lone
 * surrogate or a value that is not a string. */
int json_str(struct jv v, char **out, size_t *len);

/* An integer as JSON.stringify writes one (no fraction or exponent, <= 15 digits); 0 otherwise. */
int json_int(struct jv v, long long *out);

/* Whether an object's keys stay in their order through JSON.parse (no all-digit or repeated key). */
int json_keys_plain(struct jv obj);

#endif
