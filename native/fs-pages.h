/* hutch-fs-pages.so (fs-pages.c, fs-idle.c): what fuse/pages.ts calls through koffi. */
#ifndef HUTCH_FS_PAGES_H
#define HUTCH_FS_PAGES_H
#include <stddef.h>
#include <stdint.h>

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
#endif
