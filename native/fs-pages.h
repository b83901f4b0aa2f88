/* hutch-fs-pages.so (fs-pages.c, fs-idle.c): what fuse/pages.ts calls through koffi. */
#ifndef HUTCH_FS_PAGES_H
#define HUTCH_FS_PAGES_H
#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define EXPORT __attribute__((visibility("default")))

/* Drops this process's clean pages of read-only file mappings (fs-pages.c's rule); returns the
 * KiB that were resident in them, or -errno (reading smaps, or the first madvise that failed). */
EXPORT long hutch_pages_drop(void);

/* The mappings hutch_pages_drop would drop in an smaps text, as (start, end, rss KiB) triples in
 * out (room for max of them); returns how many there are (only max written). For the tests. */
EXPORT long hutch_pages_droppable(const char *text, size_t len, uint64_t *out, size_t max);

/* libfuse's fuse_session_receive_buf, counting requests for the idle watcher. */
EXPORT int hutch_fs_receive_buf(void *se, void *buf);

/* Finds libfuse's fuse_session_receive_buf; 0, or -1 (dlerror() says why) before any other call. */
EXPORT int hutch_fs_pages_init(void);

/* Starts the idle watcher: every ms, drops the pages again once no request came since its last
 * wake but some since its last drop. 0, or an errno of pthread_create. */
EXPORT int hutch_fs_idle_watch(unsigned ms);
/* The shared daemon's socket calls (fs-serve.c): each returns what the syscall does, or -errno. */
EXPORT int hutch_fs_listen(const char *path);
EXPORT int hutch_fs_accept(int listener);
/* One message into buf; *fd_out: the fd it carried (close-on-exec), or -1. */
EXPORT long hutch_fs_recv(int conn, void *buf, size_t len, int *fd_out);
EXPORT long hutch_fs_send(int conn, const void *buf, size_t len);
/* Registers fd with the loop's wait (made non-blocking); *session: a libfuse session whose
 * requests hutch_fs_next reads, or NULL (session may be NULL too). Returns its slot, or -errno. */
EXPORT int hutch_fs_watch(int fd, void *const *session);
/* Unregisters a slot (before its fd is closed); 0, or -errno. */
EXPORT int hutch_fs_unwatch(int slot);
/* Waits until a registered fd has something; returns its slot. For a session, its request is
 * read into buf and *got is fuse_session_receive_buf's result; else *got is 0. */
EXPORT int hutch_fs_next(void *buf, int *got);
/* The fds this process may still open: RLIMIT_NOFILE's soft limit less those open; or -errno. */
EXPORT long hutch_fs_fds_left(void);

/* The union's answers in C (fs-fast.c). Publishes a lower file's attributes (as the reply's
 * struct stat, attr_valid ttl seconds) and path for the session whose request is being served:
 * its GETATTR and READ are then answered by the loop until something may change it. 0, or -ENOMEM. */
EXPORT int hutch_fs_publish(uint64_t nodeid, const struct stat *st, double ttl, const char *path);
/* Publishes the end of a directory's listing (the offset after its last entry), for the session being
 * served: a READDIR(PLUS) from there gets its empty reply in C. 0, or -ENOMEM. */
EXPORT int hutch_fs_publish_end(uint64_t nodeid, uint64_t end);
/* How many requests were answered in C so far (the daemon traces it as a session ends), and of
 * them how many were a listing's end. */
EXPORT unsigned long hutch_fs_fast_count(void);
EXPORT unsigned long hutch_fs_ends_count(void);
/* Drops every answer of a session (it is ending). */
EXPORT void hutch_fs_fast_end(void *se);

/* The head of libfuse's struct fuse_buf (fuse_common.h), which the loop reads each request into. */
struct fuse_buf_head {
  size_t size;
  int flags; /* 0: the request is in mem */
  void *mem;
};

/* The request a fuse_buf holds after a read of got bytes, or NULL (short, or not in memory). */
static inline const struct fuse_in_header *request_in(const void *fuse_buf, int got) {
  const struct fuse_buf_head *buf = fuse_buf;
  if (got < (int)sizeof(struct fuse_in_header) || buf->flags != 0) return NULL;
  return buf->mem;
}

/* Internal to the library: the wait counter (fs-idle.c) and libfuse's receive. */
void hutch_fs_waiting(int waiting);
int hutch_fs_receive_plain(void *se, void *buf);
/* Answers a request just read (got bytes in the struct fuse_buf) in C if it can: 1, or 0 for JS to
 * serve (noting se as the session JS serves); fd is the session's /dev/fuse fd. */
int hutch_fs_fast(void *se, int fd, const void *fuse_buf, int got);
void hutch_fs_fast_session(void *se, int fd);
/* The second channel's thread (fs-channel.c): answers its request in mem on fd if it can (1). */
int hutch_fs_fast_second(void *se, int fd, const void *mem, int got);
/* Makes every answer of se stale (a request that changes a file is about to be replied). */
void hutch_fs_fast_changed(void *se);
/* Whether a request leaves every node as it was (fs-fast.c's list). */
int hutch_fs_only_reads(uint32_t opcode);
/* How many requests the second channel's thread answered (for the trace). */
EXPORT unsigned long hutch_fs_second_count(void);

/* The second channel (fs-channel.c), driven by fs-serve.c's loop: a clone of a watched session's
 * fd read by a thread of ours, where HUTCH_FS_CHANNELS=2 asks for it (1: opened; 0: not asked,
 * or -errno: the loop then serves that mount alone); closed as its slot is unwatched. The eventfd that wakes the loop when a request is handed over; how many wait;
 * the next one read into the loop's fuse_buf (1, with its slot; 0: none). */
int hutch_fs_channel_open(int at, int main_fd, void *se);
void hutch_fs_channel_close(int at);
int hutch_fs_channel_handed_fd(void);
int hutch_fs_channel_waiting(void);
int hutch_fs_channel_take(void *fuse_buf, int *got, int *at);
/* What the JS thread serves next: its session, the fd it came from (-1: its own), and whether it
 * may change a file (then the session's answers go stale just before its reply). */
void hutch_fs_channel_serving(void *se, int main_fd, int clone_fd, int changes);
/* How long the loop looks for the next request before it sleeps: HUTCH_FS_SPIN_US (0: it does not;
 * unset: DEFAULT_SPIN_US), in ns. Off unless asked: on a quiet machine a tar takes about two
 * thirds of the time with 50, but under load it took up to twice as long (docs/fuse.md). */
#define DEFAULT_SPIN_US 0
long hutch_fs_spin_ns(void);
/* The look before a sleep, for both loops: probe(arg) asks with no wait whether a request came
 * (> 0: yes, 0: no, < 0: an error, which ends the look: the sleeping wait after it retries or
 * reports it). Returns probe's positive answer, or 0 for the loop to sleep. It looks only while
 * requests come within a few looks' time of each other (hutch_fs_slept), and not after a large
 * READ (hutch_fs_spin_hint). */
int hutch_fs_look(int (*probe)(void *arg), void *arg);
/* Around each sleep: a stamp before, and how long it slept noted after (for the rule above). No
 * clock is read when the look is off. */
long hutch_fs_sleep_starts(void);
void hutch_fs_slept(long stamp);
/* What the last request was: one a reader waits on (1), or a large READ of a stream (0: the
 * loop sleeps at once after it: a stream's READs come while the reader copies, and a look would
 * hold the CPU the reader may be woken on). */
void hutch_fs_spin_hint(int waited_on);
/* Between looks the loop calls sched_yield; when a busy task ran meanwhile (longer than
 * YIELD_ALONE_NS) it sleeps, and does not look again for CROWDED_NS. A reader woken on this CPU
 * runs for tens of microseconds before it asks again (the look goes on); a task that runs until
 * preempted takes a slice, a millisecond or more. */
#define YIELD_ALONE_NS 500000L
#define CROWDED_NS 100000000L
/* And it looks only while a CPU is free (no more runnable tasks than CPUs), checked this often. */
#define FREE_CPU_NS 5000000L
#endif
