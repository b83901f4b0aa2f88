/* A process's start time, for telling a live pid from a reused one (proc.ts processStartTime): shared
   by hutch-runtime-front (a record's pid) and hutch-run-front (the shared union daemon's). */
#ifndef HUTCH_PROC_START_H
#define HUTCH_PROC_START_H

/* Field 22 of /proc/PID/stat (start time in clock ticks); -1 for no process or a zombie. */
long long process_start(long long pid);

#endif
