/* The page drop of hutch-fs-pages.so (fs-idle.c holds the rest; docs/fuse.md, "Memory"): which
 * resident pages of this process can be given back, read from /proc/self/smaps, and the
 * madvise(MADV_DONTNEED) that gives them back.
 *
 * A Node process touches ~30 MiB of the node binary (V8's snapshot, bootstrap code) while it
 * starts, and the FUSE daemon, blocked in read(/dev/fuse), touches little of it again. DONTNEED
 * only unmaps a page: a clean page of a file mapping stays in the page cache and the next touch
 * maps it back (a minor fault). It would lose data where a mapping holds private copies (a
 * written or relocated page of a MAP_PRIVATE mapping: `Anonymous` > 0) or swapped-out pages, so
 * the rule is: file-backed (an inode), no 'w' in its permissions, `Anonymous: 0 kB`, `Swap: 0
 * kB`, not locked (no `lo` in VmFlags), something resident. An entry missing one of these fields
 * is left alone.
 *
 * The scan reads smaps through a fixed buffer on the caller's stack, no malloc: the idle watcher
 * (fs-idle.c) runs it on a thread with a small stack. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs-pages.h"

/* Lines are read through a buffer of this size on the stack (a longer one: see scan()). */
#define LINE_MAX_READ 4096

/* The entry being read: its range, whether its header makes it a candidate, the fields seen. */
struct entry {
  uint64_t start, end, rss;
  int open, candidate, dirty;
  unsigned seen;
};

/* A scan: the entry being read, what to do with each eligible one, the first error of that. */
struct scan {
  struct entry e;
  int (*act)(struct scan *s, uint64_t start, uint64_t end, uint64_t rss);
  void *data;
  long error;
};

/* Where a scan reads from: read(2) of a fd, or a test's text. */
typedef long (*reader)(void *src, char *to, size_t n);

enum { SEEN_RSS = 1, SEEN_ANON = 2, SEEN_SWAP = 4, SEEN_FLAGS = 8, SEEN_ALL = 15 };

/* Parses hex digits at *p; moves *p past them; 0 when there were none. */
static int hex(const char **p, const char *end, uint64_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  for (; s < end; s++) {
    int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
    if (d < 0 || v >> 60) break;
    v = v << 4 | (uint64_t)d;
  }
  if (s == *p) return 0;
  *p = s;
  *out = v;
  return 1;
}

/* Expects the character c at *p and moves past it. */
static int expect(const char **p, const char *end, char c) {
  if (*p >= end || **p != c) return 0;
  (*p)++;
  return 1;
}

/* A header line, "start-end perms offset major:minor inode [path]", starts a new entry; the entry
 * is a candidate when the line is well formed, with an inode and no 'w'. */
static void header(struct scan *s, const char *p, const char *end) {
  uint64_t start, end_addr, skip;
  memset(&s->e, 0, sizeof s->e);
  s->e.open = 1;
  if (!hex(&p, end, &start) || !expect(&p, end, '-') || !hex(&p, end, &end_addr) || !expect(&p, end, ' ') ||
      end - p < 5)
    return;
  const char *m = p;
  int perms = (m[0] == 'r' || m[0] == '-') && m[1] == '-' && (m[2] == 'x' || m[2] == '-') && (m[3] == 'p' || m[3] == 's');
  p += 4;
  if (!perms || !expect(&p, end, ' ') || !hex(&p, end, &skip) || !expect(&p, end, ' ') || !hex(&p, end, &skip) ||
      !expect(&p, end, ':') || !hex(&p, end, &skip) || !expect(&p, end, ' '))
    return;
  int inode = 0;
  const char *digits = p;
  for (; p < end && *p >= '0' && *p <= '9'; p++) inode |= *p != '0';
  if (p == digits || !inode || (p < end && *p != ' ')) return;
  s->e.start = start;
  s->e.end = end_addr;
  s->e.candidate = end_addr > start;
}

/* "Name:   123 kB" with the given name: its value, or -1 when the line is another field or not
 * in kB (then the entry is not judged on it). */
static int64_t kb_field(const char *p, const char *end, const char *name) {
  size_t n = strlen(name);
  if ((size_t)(end - p) < n + 1 || memcmp(p, name, n) != 0 || p[n] != ':') return -1;
  p += n + 1;
  while (p < end && *p == ' ') p++;
  int64_t v = 0;
  const char *digits = p;
  for (; p < end && *p >= '0' && *p <= '9' && v < (INT64_MAX - 9) / 10; p++) v = v * 10 + (*p - '0');
  if (p == digits || end - p != 3 || memcmp(p, " kB", 3) != 0) return -1;
  return v;
}

/* "VmFlags: rd ex mr ...": whether the two-letter flag `lo` (locked) is among them. */
static int locked(const char *p, const char *end) {
  for (p += 8; p + 2 <= end; p++)
    if (p[0] == 'l' && p[1] == 'o' && p[-1] == ' ' && (p + 2 == end || p[2] == ' ')) return 1;
  return 0;
}

/* One field line of the current entry. */
static void field(struct scan *s, const char *p, const char *end) {
  struct entry *e = &s->e;
  int64_t v;
  if ((v = kb_field(p, end, "Rss")) >= 0) {
    e->seen |= SEEN_RSS;
    e->rss = (uint64_t)v;
  } else if ((v = kb_field(p, end, "Anonymous")) >= 0) {
    e->seen |= SEEN_ANON;
    e->dirty |= v != 0;
  } else if ((v = kb_field(p, end, "Swap")) >= 0) {
    e->seen |= SEEN_SWAP;
    e->dirty |= v != 0;
  } else if (end - p >= 8 && memcmp(p, "VmFlags:", 8) == 0) {
    e->seen |= SEEN_FLAGS;
    e->dirty |= locked(p, end);
  }
}

/* Judges the current entry (if any) and hands an eligible one to the scan's action. */
static void finish(struct scan *s) {
  struct entry *e = &s->e;
  if (e->open && e->candidate && e->seen == SEEN_ALL && !e->dirty && e->rss > 0 && s->error == 0) {
    int r = s->act(s, e->start, e->end, e->rss);
    if (r < 0) s->error = r;
  }
  e->open = 0;
}

/* One whole line (without its '\n'): a line starting with an address and '-' closes the entry
 * before it and opens the next; field names start with a capital, never a hex digit. */
static void feed(struct scan *s, const char *p, size_t n) {
  const char *c = p;
  uint64_t ignored;
  if (hex(&c, p + n, &ignored) && c < p + n && *c == '-') {
    finish(s);
    header(s, p, p + n);
  } else if (s->e.open) {
    field(s, p, p + n);
  }
}

/* Splits a stream into lines through buf; a line longer than buf (a header with a long path) is
 * judged on its first bytes, which hold every field the rule needs. */
static long scan(struct scan *s, reader rd, void *src) {
  char buf[LINE_MAX_READ];
  size_t have = 0;
  int skipping = 0;
  for (;;) {
    long got = rd(src, buf + have, sizeof buf - have);
    if (got < 0) return got;
    if (got == 0) break;
    have += (size_t)got;
    size_t at = 0;
    for (char *nl; (nl = memchr(buf + at, '\n', have - at)) != NULL; at = (size_t)(nl - buf) + 1) {
      if (!skipping) feed(s, buf + at, (size_t)(nl - buf) - at);
      skipping = 0;
    }
    memmove(buf, buf + at, have - at);
    have -= at;
    if (have == sizeof buf) {
      if (!skipping) feed(s, buf, have);
      skipping = 1;
      have = 0;
    }
  }
  if (have > 0 && !skipping) feed(s, buf, have);
  finish(s);
  return s->error;
}

/* read(2) of a file descriptor, as smaps_scan_stream reads. */
static long read_fd(void *src, char *to, size_t n) {
  for (;;) {
    ssize_t got = read(*(int *)src, to, n);
    if (got >= 0) return got;
    if (errno != EINTR) return -errno;
  }
}

static int madvise_range(struct scan *s, uint64_t start, uint64_t end, uint64_t rss) {
  if (madvise((void *)(uintptr_t)start, end - start, MADV_DONTNEED) != 0) return -errno;
  *(uint64_t *)s->data += rss;
  return 0;
}

EXPORT long hutch_pages_drop(void) {
  int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  uint64_t kib = 0;
  struct scan s = {.act = madvise_range, .data = &kib};
  long r = scan(&s, read_fd, &fd);
  close(fd);
  return r < 0 ? r : (long)kib;
}

/* A test's smaps text, read as a file would be. */
struct text {
  const char *p;
  size_t left;
};

static long read_text(void *src, char *to, size_t n) {
  struct text *t = src;
  if (n > t->left) n = t->left;
  memcpy(to, t->p, n);
  t->p += n;
  t->left -= n;
  return (long)n;
}

/* Where hutch_pages_droppable writes what it found. */
struct found {
  uint64_t *out;
  size_t max, count;
};

static int record(struct scan *s, uint64_t start, uint64_t end, uint64_t rss) {
  struct found *f = s->data;
  if (f->count < f->max) {
    f->out[3 * f->count] = start;
    f->out[3 * f->count + 1] = end;
    f->out[3 * f->count + 2] = rss;
  }
  f->count++;
  return 0;
}

EXPORT long hutch_pages_droppable(const char *text, size_t len, uint64_t *out, size_t max) {
  struct text t = {text, len};
  struct found f = {out, max, 0};
  struct scan s = {.act = record, .data = &f};
  long r = scan(&s, read_text, &t);
  return r < 0 ? r : (long)f.count;
}
