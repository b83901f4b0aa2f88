/*
 * hutch-sandbox's --args FD (src/sandbox/args-fd.ts readArgsFd): more flags, each word ended by a
 * NUL, read from the caller's fd to its end (then closed) and spliced where the flag stands. What
 * the TypeScript path refuses (no NUL at the end, a word that is not UTF-8, too many) it words.
 */
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

enum { ARGS_MAX = 1 << 20, ARGS_WORDS_MAX = 9000 }; /* args-fd.ts */

char **splice_args(char **words, int *n, int i, int *end) {
  const char *v = words[i + 1];
  size_t digits = strspn(v, "0123456789");
  if (digits == 0 || digits > 9 || v[digits] != '\0') fall_back("an invalid --args FD");
  int fd = atoi(v);
  if (fd < 3 || fd_was_read(fd)) fall_back("an --args FD of 0-2, or one read already");
  struct buf data = {0};
  read_caller_fd(fd, ARGS_MAX, "--args", &data);
  if (data.len > 0 && data.p[data.len - 1] != '\0') fall_back("--args not ended by a NUL");
  int m = 0;
  for (size_t k = 0; k < data.len; k++) m += data.p[k] == '\0';
  if (m > ARGS_WORDS_MAX) fall_back("too many words in --args");
  char **w = calloc((size_t)(*n - 2 + m + 1), sizeof(char *));
  if (w == NULL) fall_back("out of memory");
  memcpy(w, words, sizeof(char *) * (size_t)i);
  char *p = data.p;
  for (int k = 0; k < m; k++, p += strlen(p) + 1) {
    if (!utf8_valid((const unsigned char *)p)) fall_back("a word of --args is not UTF-8");
    w[i + k] = p;
  }
  memcpy(w + i + m, words + i + 2, sizeof(char *) * (size_t)(*n - i - 2));
  *n += m - 2;
  *end = i + m;
  return w;
}
