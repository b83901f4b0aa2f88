/* The union's answers in C (docs/fuse.md, "GETATTR and READ of lower files in C"): a tar of a
 * tree asks three things a file (LOOKUP, READ, GETATTR), and two of them, for a file that is only
 * in a lower layer, have answers that cannot change until something writes: its attributes and
 * its bytes. The daemon's JS publishes those (hutch_fs_publish: the attributes it replied, the
 * lower file's path) as it replies a LOOKUP or GETATTR; the loop (fs-serve.c's hutch_fs_next,
 * fs-idle.c's hutch_fs_receive_buf) then answers the next GETATTR and READ of that node here,
 * without the koffi crossing, libfuse's dispatch and V8 around each, and hands every other
 * request to JS as before.
 *
 * What keeps an answer true:
 * - any request that may change a file system (everything but the requests below that only read)
 *   makes every answer of its session stale (a generation bump), before JS serves it: a write,
 *   chmod or copy-up of a node, and an unlink, rename or link that changes another's nlink;
 * - FORGET and BATCH_FORGET drop their nodes' answers (the node id may be given to another file);
 * - a session's end drops all of its answers (hutch_fs_fast_end);
 * - a node is published again only by JS, from its own state, while it serves a request of that
 *   session (the loop notes which session it read the request from).
 * Anything that fails here (the open, the read) is handed to JS, which answers as it always did.
 *
 * Two threads answer here: the JS thread's loop, and the second channel's (fs-channel.c), which
 * reads the same mounts' requests from a clone of each /dev/fuse fd. One lock keeps the table,
 * the ring of fds and each session's generation whole; an answer is sent under it, so no fd is
 * closed while the other thread reads it. Each thread has its own pipe and read buffer. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs-pages.h"

/* Lower files C keeps open for READ: few, as a reader reads a file to its end before the next. */
#define FAST_FDS 64

struct answer {
  struct answer *next; /* in its bucket */
  void *se;
  uint64_t nodeid;
  uint64_t gen;
  struct fuse_attr_out attr;
  char *path;  /* NULL: a directory's, only its listing's end (listing_end) */
  uint64_t listing_end; /* a directory's: the offset after its last listing's last entry (0: none) */
  int fd;      /* -1: not open */
  int ring_at; /* its place in the ring of open fds while fd >= 0 */
};

struct fast_session {
  void *se;
  int fd; /* the /dev/fuse fd replies are written to */
  uint64_t gen;
};

static struct answer **buckets;
static size_t nbuckets, nanswers;
static struct fast_session *sessions;
static size_t nsessions;
static struct fast_session *current; /* the session of the request JS is serving */
static struct answer *ring[FAST_FDS];
static int ring_next;
static __thread char *data;
static __thread size_t data_size;
static unsigned long answered; /* requests answered here, for the trace (HUTCH_TRACE) */
static unsigned long answered_second; /* of those, by the second channel's thread */
static unsigned long listings_ended;  /* of those, listings' ends (serve_listing_end) */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int off_switch = -1; /* HUTCH_FS_FAST=0: nothing is published (to compare) */

static size_t bucket_of(void *se, uint64_t nodeid) {
  uint64_t h = (nodeid ^ ((uint64_t)(uintptr_t)se >> 4)) * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20) & (nbuckets - 1);
}

static struct fast_session *session_of(void *se) {
  for (size_t i = 0; i < nsessions; i++)
    if (sessions[i].se == se) return &sessions[i];
  return NULL;
}

static void close_fd(struct answer *a) {
  if (a->fd < 0) return;
  close(a->fd);
  ring[a->ring_at] = NULL;
  a->fd = -1;
}

static void free_answer(struct answer *a) {
  close_fd(a);
  free(a->path);
  free(a);
  nanswers--;
}

static struct answer **find_link(void *se, uint64_t nodeid) {
  if (nbuckets == 0) return NULL;
  struct answer **link = &buckets[bucket_of(se, nodeid)];
  while (*link != NULL && ((*link)->se != se || (*link)->nodeid != nodeid)) link = &(*link)->next;
  return link;
}

static void drop(void *se, uint64_t nodeid) {
  struct answer **link = find_link(se, nodeid);
  if (link == NULL || *link == NULL) return;
  struct answer *a = *link;
  *link = a->next;
  free_answer(a);
}

static int grow(void) {
  size_t more = nbuckets == 0 ? 1024 : nbuckets * 2;
  struct answer **b = calloc(more, sizeof *b);
  if (b == NULL) return -1;
  size_t old = nbuckets;
  struct answer **was = buckets;
  buckets = b;
  nbuckets = more;
  for (size_t i = 0; i < old; i++)
    for (struct answer *a = was[i], *next; a != NULL; a = next) {
      next = a->next;
      size_t at = bucket_of(a->se, a->nodeid);
      a->next = buckets[at];
      buckets[at] = a;
    }
  free(was);
  return 0;
}

/* Notes the session a request was read from: what JS publishes while serving it is that session's. */
static void note_session(void *se, int fd) {
  current = session_of(se);
  if (current != NULL || se == NULL) return;
  struct fast_session *more = realloc(sessions, sizeof *sessions * (nsessions + 1));
  if (more == NULL) return;
  sessions = more;
  sessions[nsessions] = (struct fast_session){se, fd, 1};
  current = &sessions[nsessions++];
}

void hutch_fs_fast_session(void *se, int fd) {
  pthread_mutex_lock(&lock);
  note_session(se, fd);
  pthread_mutex_unlock(&lock);
}

EXPORT void hutch_fs_fast_end(void *se) {
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < nbuckets; i++)
    for (struct answer **link = &buckets[i]; *link != NULL;) {
      struct answer *a = *link;
      if (a->se != se) {
        link = &a->next;
        continue;
      }
      *link = a->next;
      free_answer(a);
    }
  for (size_t i = 0; i < nsessions; i++)
    if (sessions[i].se == se) {
      sessions[i] = sessions[--nsessions];
      break;
    }
  current = NULL;
  pthread_mutex_unlock(&lock);
}

void hutch_fs_fast_changed(void *se) {
  pthread_mutex_lock(&lock);
  struct fast_session *s = session_of(se);
  if (s != NULL) s->gen++;
  pthread_mutex_unlock(&lock);
}

static uint64_t timeout_sec(double t) { return t <= 0 ? 0 : t >= 1e18 ? (uint64_t)1e18 : (uint64_t)t; }

static uint32_t timeout_nsec(double t) {
  if (t <= 0 || t >= 1e18) return 0;
  double f = (t - (double)timeout_sec(t)) * 1e9;
  return f >= 999999999.0 ? 999999999u : (uint32_t)f;
}

EXPORT unsigned long hutch_fs_fast_count(void) {
  pthread_mutex_lock(&lock);
  unsigned long n = answered;
  pthread_mutex_unlock(&lock);
  return n;
}

EXPORT unsigned long hutch_fs_ends_count(void) {
  pthread_mutex_lock(&lock);
  unsigned long n = listings_ended;
  pthread_mutex_unlock(&lock);
  return n;
}

EXPORT unsigned long hutch_fs_second_count(void) {
  pthread_mutex_lock(&lock);
  unsigned long n = answered_second;
  pthread_mutex_unlock(&lock);
  return n;
}

static int publish(uint64_t nodeid, const struct stat *st, double ttl, const char *path);

static int switched_off(void) {
  if (off_switch < 0) {
    const char *v = getenv("HUTCH_FS_FAST");
    off_switch = v != NULL && strcmp(v, "0") == 0;
  }
  return off_switch;
}

EXPORT int hutch_fs_publish(uint64_t nodeid, const struct stat *st, double ttl, const char *path) {
  if (switched_off()) return 0;
  pthread_mutex_lock(&lock);
  int r = current == NULL ? 0 : publish(nodeid, st, ttl, path);
  pthread_mutex_unlock(&lock);
  return r;
}

/* The answer of the current session's node, found or made (empty: no path, no listing's end); NULL
 * when memory ran out. */
static struct answer *current_answer(uint64_t nodeid) {
  if (nanswers >= nbuckets && grow() != 0) return NULL;
  struct answer **link = find_link(current->se, nodeid);
  if (*link != NULL) return *link;
  struct answer *a = calloc(1, sizeof *a);
  if (a == NULL) return NULL;
  *a = (struct answer){.se = current->se, .nodeid = nodeid, .fd = -1};
  a->next = buckets[bucket_of(current->se, nodeid)];
  buckets[bucket_of(current->se, nodeid)] = a;
  nanswers++;
  return a;
}

static int publish(uint64_t nodeid, const struct stat *st, double ttl, const char *path) {
  struct answer *a = current_answer(nodeid);
  if (a == NULL) return -ENOMEM;
  if (a->path == NULL || strcmp(a->path, path) != 0) {
    char *p = strdup(path);
    if (p == NULL) return -ENOMEM;
    close_fd(a);
    free(a->path);
    a->path = p;
  }
  a->gen = current->gen;
  struct fuse_attr *out = &a->attr.attr;
  a->attr.attr_valid = timeout_sec(ttl);
  a->attr.attr_valid_nsec = timeout_nsec(ttl);
  *out = (struct fuse_attr){
      .ino = st->st_ino,
      .size = (uint64_t)st->st_size,
      .blocks = (uint64_t)st->st_blocks,
      .atime = (uint64_t)st->st_atim.tv_sec,
      .mtime = (uint64_t)st->st_mtim.tv_sec,
      .ctime = (uint64_t)st->st_ctim.tv_sec,
      .atimensec = (uint32_t)st->st_atim.tv_nsec,
      .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
      .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
      .mode = st->st_mode,
      .nlink = (uint32_t)st->st_nlink,
      .uid = st->st_uid,
      .gid = st->st_gid,
      .rdev = (uint32_t)st->st_rdev,
      .blksize = (uint32_t)st->st_blksize,
  };
  return 0;
}

/* The published answer for this request's node (a lower file's), if still true. */
static struct answer *answer_for(struct fast_session *s, uint64_t nodeid) {
  struct answer **link = find_link(s->se, nodeid);
  if (link == NULL || *link == NULL || (*link)->path == NULL || (*link)->gen != s->gen) return NULL;
  return *link;
}

/* A directory's listing end: after a READDIR(PLUS) reply that gave a listing's last entry, the
 * kernel asks once more from that entry's offset to learn that nothing follows (getdents' last
 * call), one request a directory. fuse/listing.ts hands out offsets that name their snapshot
 * (generation * 2^32 + index): the offset after a snapshot's last entry is its end whatever
 * changed since, so this answer needs no generation; a newer listing publishes its own end.
 * Dropped with the node (FORGET) and the session, as a file's. */
EXPORT int hutch_fs_publish_end(uint64_t nodeid, uint64_t end) {
  if (switched_off() || end == 0) return 0;
  pthread_mutex_lock(&lock);
  int r = 0;
  if (current != NULL) {
    struct answer *a = current_answer(nodeid);
    if (a != NULL) a->listing_end = end;
    else r = -ENOMEM;
  }
  pthread_mutex_unlock(&lock);
  return r;
}

static int open_fd(struct answer *a) {
  if (a->fd >= 0) return a->fd;
  int fd = open(a->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) return -1;
  struct answer *old = ring[ring_next];
  if (old != NULL) close_fd(old);
  ring[ring_next] = a;
  a->fd = fd;
  a->ring_at = ring_next;
  ring_next = (ring_next + 1) % FAST_FDS;
  return fd;
}

static void reply(int fd, uint64_t unique, const void *body, size_t len) {
  struct fuse_out_header out = {.len = (uint32_t)(sizeof out + len), .error = 0, .unique = unique};
  struct iovec iov[2] = {{&out, sizeof out}, {(void *)body, len}};
  /* ENOENT: the request was interrupted meanwhile; nothing else to do, as in libfuse. */
  (void)!writev(fd, iov, len > 0 ? 2 : 1);
}

/* A pipe for spliced replies: file -> pipe -> /dev/fuse, the data never copied through memory
 * (as libfuse's fuse_reply_data does). 0 when it is ready for len bytes, else -1 (then pread). */
static __thread int splice_pipe[2] = {-1, -1};
static __thread size_t pipe_size;

static int pipe_for(size_t len) {
  if (splice_pipe[0] < 0 && pipe2(splice_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
  if (pipe_size >= len) return 0;
  int got = fcntl(splice_pipe[1], F_SETPIPE_SZ, (int)len);
  if (got < 0) return -1;
  pipe_size = (size_t)got;
  return pipe_size >= len ? 0 : -1;
}

/* Empties the pipe after a splice that moved less than it should (then nothing was written). */
static void drain_pipe(void) {
  char sink[4096];
  while (read(splice_pipe[0], sink, sizeof sink) > 0) {
  }
}

/* The spliced reply of n bytes at off (n known from the published size: a lower file does not
 * change); 1 if sent, 0 if nothing was sent (the caller preads instead). */
static int splice_reply(int to, uint64_t unique, int fd, size_t n, off_t off) {
  struct fuse_out_header out = {.len = (uint32_t)(sizeof out + n), .error = 0, .unique = unique};
  if (pipe_for(sizeof out + n) != 0) return 0;
  struct iovec head = {&out, sizeof out};
  if (vmsplice(splice_pipe[1], &head, 1, 0) != (ssize_t)sizeof out) {
    drain_pipe();
    return 0;
  }
  loff_t at = off;
  if (splice(fd, &at, splice_pipe[1], NULL, n, 0) != (ssize_t)n) {
    drain_pipe();
    return 0;
  }
  /* As libfuse: an error here (ENOENT: the request was interrupted) leaves nothing to do. */
  if (splice(splice_pipe[0], NULL, to, NULL, sizeof out + n, 0) != (ssize_t)(sizeof out + n)) drain_pipe();
  return 1;
}

/* A READDIR or READDIRPLUS from a published end: the empty reply that ends getdents. */
static int serve_listing_end(struct fast_session *s, int to, const struct fuse_in_header *in, const struct fuse_read_in *r) {
  struct answer **link = find_link(s->se, in->nodeid);
  if (link == NULL || *link == NULL || (*link)->listing_end == 0 || (*link)->listing_end != r->offset) return 0;
  reply(to, in->unique, NULL, 0);
  listings_ended++;
  return 1;
}

/* Below this a READ is pread and written with its header: two system calls against splice's three. */
#define SPLICE_FROM (32 * 1024)

static int serve_read(struct fast_session *s, int to, const struct fuse_in_header *in, const struct fuse_read_in *r) {
  struct answer *a = answer_for(s, in->nodeid);
  if (a == NULL || r->size > 64u << 20) return 0;
  int fd = open_fd(a);
  if (fd < 0) return 0;
  uint64_t size = a->attr.attr.size;
  size_t n = r->offset >= size ? 0 : size - r->offset < r->size ? (size_t)(size - r->offset) : r->size;
  if (n >= SPLICE_FROM && splice_reply(to, in->unique, fd, n, (off_t)r->offset)) return 1;
  if (data_size < r->size) {
    char *more = realloc(data, r->size);
    if (more == NULL) return 0;
    data = more;
    data_size = r->size;
  }
  ssize_t got;
  do got = pread(fd, data, r->size, (off_t)r->offset);
  while (got < 0 && errno == EINTR);
  if (got < 0) return 0;
  reply(to, in->unique, data, (size_t)got);
  return 1;
}

/* Whether a request leaves every node as it was (the rest may change one: a generation bump). */
int hutch_fs_only_reads(uint32_t opcode) {
  switch (opcode) {
    case FUSE_LOOKUP:
    case FUSE_FORGET:
    case FUSE_GETATTR:
    case FUSE_READLINK:
    case FUSE_READ:
    case FUSE_STATFS:
    case FUSE_RELEASE:
    case FUSE_FSYNC:
    case FUSE_GETXATTR:
    case FUSE_LISTXATTR:
    case FUSE_FLUSH:
    case FUSE_OPENDIR:
    case FUSE_READDIR:
    case FUSE_RELEASEDIR:
    case FUSE_FSYNCDIR:
    case FUSE_ACCESS:
    case FUSE_INTERRUPT:
    case FUSE_BATCH_FORGET:
    case FUSE_READDIRPLUS:
    case FUSE_LSEEK:
    case FUSE_POLL:
      return 1;
    default:
      return 0;
  }
}

/* Answers the request in mem (got bytes, read from session s) on fd, if it can: 1, else 0. */
static int answer(struct fast_session *s, void *se, int to, const void *mem, int got) {
  if (got < (int)sizeof(struct fuse_in_header)) return 0;
  const struct fuse_in_header *in = mem;
  const char *body = (const char *)mem + sizeof *in;
  size_t left = (size_t)got - sizeof *in;
  switch (in->opcode) {
    case FUSE_GETATTR: {
      struct answer *a = answer_for(s, in->nodeid);
      if (a == NULL) return 0;
      reply(to, in->unique, &a->attr, sizeof a->attr);
      return 1;
    }
    case FUSE_READ:
      return left >= sizeof(struct fuse_read_in) && serve_read(s, to, in, (const struct fuse_read_in *)body);
    case FUSE_READDIR:
    case FUSE_READDIRPLUS:
      return left >= sizeof(struct fuse_read_in) && serve_listing_end(s, to, in, (const struct fuse_read_in *)body);
    case FUSE_FORGET:
      drop(se, in->nodeid);
      return 0;
    case FUSE_BATCH_FORGET: {
      const struct fuse_batch_forget_in *b = (const void *)body;
      if (left < sizeof *b) return 0;
      const struct fuse_forget_one *one = (const void *)(b + 1);
      for (uint32_t i = 0; i < b->count && (i + 1) * sizeof *one <= left - sizeof *b; i++) drop(se, one[i].nodeid);
      return 0;
    }
    default:
      if (!hutch_fs_only_reads(in->opcode)) s->gen++;
      return 0;
  }
}

int hutch_fs_fast(void *se, int fd, const void *fuse_buf, int got) {
  const struct fuse_in_header *in = request_in(fuse_buf, got);
  if (in != NULL) {
    const struct fuse_read_in *r = (const void *)(in + 1);
    /* A large READ is a stream's (readahead, sent without the reader waiting on it): no look then. */
    hutch_fs_spin_hint(!(in->opcode == FUSE_READ && (size_t)got >= sizeof *in + sizeof *r && r->size >= SPLICE_FROM));
  }
  pthread_mutex_lock(&lock);
  note_session(se, fd);
  int r = current != NULL && in != NULL && answer(current, se, fd, in, got);
  answered += (unsigned long)r;
  pthread_mutex_unlock(&lock);
  return r;
}

int hutch_fs_fast_second(void *se, int to, const void *mem, int got) {
  pthread_mutex_lock(&lock);
  struct fast_session *s = session_of(se);
  /* No session noted yet: JS has published nothing of it, so there is nothing to answer or stale. */
  int r = s != NULL && answer(s, se, to, mem, got);
  answered += (unsigned long)r;
  answered_second += (unsigned long)r;
  pthread_mutex_unlock(&lock);
  return r;
}
