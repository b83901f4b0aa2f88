#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc-start.h"

long long process_start(long long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* after the command's name, which may hold anything */
  if (p == NULL || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') return -1;
  p += 2;
  for (int field = 0; field < 19; field++) {
    p = strchr(p, ' ');
    if (p == NULL) return -1;
    p++;
  }
  return strtoll(p, NULL, 10);
}
