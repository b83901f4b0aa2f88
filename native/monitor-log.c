/* The container log as logWriter (src/engine/store/logs.ts) writes it, podman's k8s-file format:
 * `<RFC 3339 time with ns> <stdout|stderr> <F|P> <text>\n`, one line per output line (a trailing
 * \r dropped), P for a piece of a line that did not end (16 KiB of it, or what is left at the end).
 * Bytes are copied as they come (Node decoded each chunk as UTF-8). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "monitor.h"

void log_error(const char *step) {
  fprintf(stderr, "hutch-monitor: %s: %s\n", step, strerror(errno));
}

static void emit(int log_fd, const char *stream, const char *text, size_t len, int partial) {
  struct timespec now;
  struct tm tm;
  char head[80];
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t n = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(head + n, sizeof head - n, ".%09ldZ %s %c ", now.tv_nsec, stream, partial ? 'P' : 'F');
  struct iovec iov[3] = {
    { head, strlen(head) }, { (void *)text, len }, { "\n", 1 },
  };
  /* One writev per line: lines of stdout and stderr never interleave in the O_APPEND log. */
  if (writev(log_fd, iov, 3) < 0) log_error("write the container log");
}

/* Splits what is pending into lines; keeps the unfinished rest, logged as P once it is a piece. */
static void split(struct stream *s, int log_fd) {
  size_t start = 0;
  for (char *nl; (nl = memchr(s->pending + start, '\n', s->len - start)) != NULL;) {
    size_t len = (size_t)(nl - (s->pending + start));
    if (len > 0 && s->pending[start + len - 1] == '\r') len--;
    emit(log_fd, s->name, s->pending + start, len, 0);
    start = (size_t)(nl - s->pending) + 1;
  }
  memmove(s->pending, s->pending + start, s->len - start);
  s->len -= start;
  if (s->len >= LOG_PIECE) {
    emit(log_fd, s->name, s->pending, s->len, 1);
    s->len = 0;
  }
}

/* Reads what the stream has (its fd is non-blocking); at its end, logs the rest and closes it.
 * Returns whether it read anything. */
int log_read(struct stream *s, int log_fd) {
  ssize_t n = read(s->fd, s->pending + s->len, READ_CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n <= 0) {
    if (n < 0 && errno != EIO) log_error(s->name); /* EIO: a terminal whose other side closed */
    log_end(s, log_fd);
    return 0;
  }
  s->len += (size_t)n;
  split(s, log_fd);
  return 1;
}

void log_end(struct stream *s, int log_fd) {
  if (s->len > 0) emit(log_fd, s->name, s->pending, s->len, 1);
  s->len = 0;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}
