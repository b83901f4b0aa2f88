/* hutch-monitor's parts (monitor.c: the wait loop; monitor-log.c: the container log;
 * monitor-end.c: the end of a run and the exec back into Node). */
#ifndef HUTCH_MONITOR_H
#define HUTCH_MONITOR_H

#include <stddef.h>
#include <sys/types.h>

/* logWriter's piece size (src/engine/store/logs.ts): a line that grows past it is logged as P. */
#define LOG_PIECE 16384
#define READ_CHUNK 65536

/* One output stream of the container (its stdout or stderr pipe) and the line it has begun. */
struct stream {
  int fd; /* -1 once it reached its end */
  const char *name; /* "stdout" or "stderr" */
  char pending[LOG_PIECE + READ_CHUNK];
  size_t len;
};

/* Everything the Node monitor handed over (argv), see src/engine/monitor/handover.ts. */
struct handover {
  int log, control, attach, stdin_fd;
  int slave; /* a terminal: a slave of its pty, held until the container is reaped */
  pid_t helper, container, holder_helper, holder;
  const char *attach_path;
  const char *removing; /* made by `rm -f`: the record goes, no finish (lifecycle.ts markRemoving) */
  char **finish; /* the Node command that finishes the run; exit code and failure are appended */
};

void log_error(const char *step);
int log_read(struct stream *s, int log_fd);
void log_end(struct stream *s, int log_fd);
void stop_children(pid_t last);
void exec_finish(char **finish, int exit_code, const char *failure);

#endif
