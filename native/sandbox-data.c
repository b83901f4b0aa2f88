/*
 * hutch-sandbox's --file, --bind-data and --ro-bind-data (and --args): the caller's fds read to their end before
 * anything runs (src/sandbox/data.ts readCallerFd), the bytes sent in the plan (FILE records), each
 * fd closed after. A hand-over to the TypeScript path after a read finds the same bytes at the same
 * fd (a memfd put there), and HUTCH_SANDBOX_FDS names the caller's fds: once Node runs, its own fds
 * cannot be told from the caller's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sandbox.h"
#include "wire.h"

enum { DATA_MAX = 8 << 20 }; /* data.ts SANDBOX_DATA_MAX: all the data flags together */

/* The fds read so far (--args, the data flags) and their bytes: restore_data puts them back. */
static struct got {
  int fd;
  const char *bytes;
  size_t n;
} *got;
static int ngot;

static void remember(int fd, const struct buf *data) {
  got = realloc(got, sizeof *got * (size_t)(ngot + 1));
  if (got == NULL) exit(125); /* nothing ran yet */
  got[ngot++] = (struct got){fd, data->p ? data->p : "", data->len};
}

int fd_was_read(int fd) {
  for (int i = 0; i < ngot; i++)
    if (got[i].fd == fd) return 1;
  return 0;
}

/* Reads `fd` to its end, at most `limit` + 1 bytes; 0, or an errno (EFBIG past the limit). */
static int read_fd(int fd, size_t limit, struct buf *out) {
  char chunk[65536];
  for (;;) {
    size_t want = limit + 1 - out->len < sizeof chunk ? limit + 1 - out->len : sizeof chunk;
    ssize_t n = read(fd, chunk, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) { /* a non-blocking fd with nothing yet */
      poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, -1);
      continue;
    }
    if (n < 0) return errno;
    if (n == 0) return 0;
    buf_add(out, chunk, (size_t)n);
    if (out->len > limit) return EFBIG;
  }
}

/* Reads the caller's `fd` to its end (at most `limit` bytes), remembered for a hand-over, then closes it. */
void read_caller_fd(int fd, size_t limit, const char *what, struct buf *data) {
  if (fcntl(fd, F_GETFD) < 0) fall_back("an FD that is not open");
  int err = read_fd(fd, limit, data);
  if (err && data->len == 0) fall_back("an FD it cannot read"); /* nothing read: the fd is as it was */
  remember(fd, data);
  if (err == EFBIG) fall_back("data past the limit"); /* the TypeScript path reads as much and says so */
  if (err) { /* part read, then an error: those bytes cannot be read again */
    fprintf(stderr, "hutch: cannot read fd %d for %s: %s\n", fd, what, strerror(err));
    exit(125);
  }
  close(fd);
}

void read_data(struct options *o) {
  size_t left = DATA_MAX;
  for (int i = 0; i < o->nbinds; i++) {
    struct bind *b = &o->binds[i];
    if (b->kind < BIND_FILE) continue;
    struct buf data = {0};
    read_caller_fd(b->fd, left, b->destination, &data);
    b->bytes = data.p ? data.p : "", b->nbytes = data.len;
    left -= data.len;
  }
}

/* The fds open without close-on-exec (the caller's, and the memfds put at theirs), as "3,5". */
static void list_caller_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct buf list = {0};
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
    int fd = atoi(e->d_name), flags = fd > 2 && fd != dirfd(d) ? fcntl(fd, F_GETFD) : -1;
    if (flags < 0 || (flags & FD_CLOEXEC)) continue;
    if (list.len > 0) buf_add(&list, ",", 1);
    buf_add(&list, e->d_name, strlen(e->d_name));
  }
  if (d != NULL) closedir(d);
  setenv("HUTCH_SANDBOX_FDS", list.len ? buf_cstr(&list) : "", 1);
}

void restore_data(void) {
  for (int i = 0; i < ngot; i++) {
    const struct got *b = &got[i];
    int fd = memfd_create("hutch-sandbox-data", 0);
    if (fd < 0 || write(fd, b->bytes, b->n) != (ssize_t)b->n || lseek(fd, 0, SEEK_SET) != 0 ||
        (fd != b->fd && dup2(fd, b->fd) < 0)) {
      fprintf(stderr, "hutch: cannot hand fd %d over to node: %s\n", b->fd, strerror(errno));
      exit(125);
    }
    if (fd != b->fd) close(fd); /* it may have got the very number: the fd closed after the read */
  }
  list_caller_fds();
}

/* A FILE record (nsexec.ts fsRecord 'file'): mode, ops (1 bind, 2 read-only), path, the bytes in a
   string's framing, written straight into the plan (megabytes: one copy fewer than plan_record's). */
void record_file(struct buf *plan, const struct mount *m, const char *path) {
  struct buf head = {0};
  buf_u32(&head, m->flags);
  buf_u32(&head, strcmp(m->type, "file") == 0 ? 0 : strcmp(m->type, "bind-data") == 0 ? 1 : 3);
  buf_str(&head, path);
  buf_u32(&head, (uint32_t)m->bind + 1);
  unsigned char tag[2] = {TAG_FILE & 0xff, TAG_FILE >> 8};
  buf_add(plan, tag, 2);
  buf_u32(plan, (uint32_t)(head.len + (size_t)m->bind + 1));
  buf_add(plan, head.p, head.len);
  buf_add(plan, m->source, (size_t)m->bind);
  buf_add(plan, "", 1);
  free(head.p);
}
