/*
 * hutch-run-front's -t (run-front.h struct tty): the container's pty relayed to the caller's stdio
 * as the TypeScript path does it (src/engine/launch/terminal.ts attachTerminal, terminal-input.ts
 * typeInto, src/engine/container/foreground.ts terminalIo and rawMode), in one poll loop:
 * - the master taken from the container's process (pidfd_getfd of PTY_MASTER_FD, launch.ts takeFd),
 *   a slave of it held until the end so that the master never reads EIO nor polls POLLHUP: the end
 *   of the output is the helper's exit, and what the pty still holds then is passed on;
 * - the window size of the caller's stdout tty, else its stdin tty, else 24x80; SIGWINCH followed;
 * - the output read from the master only while the caller's stdout took the last piece
 *   (backpressure: a full pty blocks the container, as a full pipe would); its EPIPE hangs the
 *   pty up (master and slave closed: the container's writes fail with EIO) and the run goes on;
 * - with -i, stdin typed into the master without waiting on it: what the pty refuses is held and
 *   tried again on a timer (1 ms, doubled to 50 ms while nothing goes in), stdin not read
 *   meanwhile; stdin's end sends nothing (a terminal's end of input is the ^D the caller types);
 * - raw mode on the caller's terminal with -i (libuv's UV_TTY_MODE_RAW), restored at every way out.
 * The caller's fds keep their flags (their file descriptions are shared with the caller's shell):
 * reads follow poll's POLLIN, writes to stdout POLLOUT and at most a pipe's atomic size.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "run-front.h"
#include "wire.h"

enum { RETRY_FIRST_MS = 1, RETRY_LAST_MS = 50 };

void tty_raw(struct tty *t, const struct run *r) {
  t->master = t->slave = t->winch = t->helper_exit = t->size_from = -1, t->raw = 0;
  if (!r->tty || !r->interactive || !isatty(0) || tcgetattr(0, &t->saved) != 0) return;
  struct termios raw = t->saved;
  raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  raw.c_oflag |= ONLCR;
  raw.c_cflag |= CS8;
  raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
  raw.c_cc[VMIN] = 1, raw.c_cc[VTIME] = 0;
  t->raw = tcsetattr(0, TCSADRAIN, &raw) == 0;
}

void tty_restore(struct tty *t) {
  if (t->raw) tcsetattr(0, TCSADRAIN, &t->saved);
  t->raw = 0;
}

/* foreground.ts terminalIo sizeOf: a terminal that reports 0x0 (a pty nobody sized) gives none. */
static int size_of(int fd, struct winsize *ws) {
  return fd >= 0 && ioctl(fd, TIOCGWINSZ, ws) == 0 && ws->ws_row > 0 && ws->ws_col > 0;
}

/* SIGWINCH blocked for its signalfd, or as the front found it (a mask survives exec: node's, at a hand-over). */
static void hold_winch(int how) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  sigprocmask(how, &set, NULL);
}

int tty_take(struct tty *t, pid_t container, pid_t helper) {
  t->helper_exit = (int)syscall(SYS_pidfd_open, helper, 0); /* the end of the relay */
  int pidfd = (int)syscall(SYS_pidfd_open, container, 0);
  if (t->helper_exit < 0 || pidfd < 0) return -1;
  t->master = (int)syscall(SYS_pidfd_getfd, pidfd, PTY_MASTER_FD, 0);
  close(pidfd);
  if (t->master < 0) return -1;
  t->slave = ioctl(t->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (t->slave < 0) return -1;
  t->size_from = isatty(1) ? 1 : isatty(0) ? 0 : -1;
  struct winsize ws;
  if (!size_of(t->size_from, &ws)) ws = (struct winsize){.ws_row = 24, .ws_col = 80}; /* no consoleSize for a run */
  if (ioctl(t->master, TIOCSWINSZ, &ws) != 0) return -1;
  int flags = fcntl(t->master, F_GETFL);
  if (flags < 0 || fcntl(t->master, F_SETFL, flags | O_NONBLOCK) != 0) return -1;
  if (t->size_from >= 0) { /* terminalIo's watchSize: only with a terminal of the caller's to follow */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    hold_winch(SIG_BLOCK);
    t->winch = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (t->winch < 0) hold_winch(SIG_UNBLOCK);
  }
  return 0;
}

/* The pty closed (the container's writes fail with EIO from then on), its size no longer followed. */
static void hang_up(struct tty *t) {
  if (t->master >= 0) close(t->master);
  if (t->slave >= 0) close(t->slave);
  if (t->winch >= 0) close(t->winch), hold_winch(SIG_UNBLOCK);
  t->master = t->slave = t->winch = -1;
}

void tty_close(struct tty *t) {
  hang_up(t);
  if (t->helper_exit >= 0) close(t->helper_exit);
  t->helper_exit = -1;
}

/* What is held for one side: bytes [at, len) of data. */
struct held {
  char data[PIPE_BUF];
  size_t at, len;
};

/* The caller's stdout, as Node writes to it: every byte, waiting while it is full; -1 once it failed. */
static int write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      poll(&(struct pollfd){.fd = 1, .events = POLLOUT}, 1, -1);
      continue;
    }
    if (w <= 0) return -1;
    p += w, n -= (size_t)w;
  }
  return 0;
}

/* The detach (attachTerminal's): what the pty still holds passed on (the slave held: EAGAIN is
   "nothing more"; the kernel moves what the slave wrote to the master before it says so). */
static void drain(struct tty *t, struct held *out) {
  int ok = write_all(out->data + out->at, out->len - out->at) == 0;
  static char chunk[65536];
  for (ssize_t n; ok && ((n = read(t->master, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR));)
    if (n > 0) ok = write_all(chunk, (size_t)n) == 0;
}

/* typeInto's writeHeld: as much as the master takes now; 1 if anything went in. What it refuses
   otherwise than with EAGAIN (EIO: no slave left) is dropped. */
static int type_held(struct tty *t, struct held *in) {
  int progress = 0;
  while (in->at < in->len) {
    ssize_t n = write(t->master, in->data + in->at, in->len - in->at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno != EAGAIN) in->at = in->len;
      break;
    }
    progress |= n > 0;
    in->at += (size_t)n;
  }
  if (in->at == in->len) in->at = in->len = 0;
  return progress;
}

int tty_relay(struct tty *t, const struct run *r, pid_t helper, struct watch *w) {
  int exited = t->helper_exit, winch = t->winch, watched = w->fd;
  static struct held out, in;
  int input = r->interactive, hung_up = 0, master_open = 1, delay = RETRY_FIRST_MS;
  for (;;) {
    enum { MASTER, OUT, IN, WINCH, EXITED, WATCHED };
    struct pollfd p[] = {
        [MASTER] = {.fd = !hung_up && master_open && out.len == 0 ? t->master : -1, .events = POLLIN},
        [OUT] = {.fd = !hung_up && out.len > 0 ? 1 : -1, .events = POLLOUT},
        [IN] = {.fd = !hung_up && input && in.len == 0 ? 0 : -1, .events = POLLIN},
        [WINCH] = {.fd = hung_up ? -1 : winch, .events = POLLIN},
        [EXITED] = {.fd = exited, .events = POLLIN},
        [WATCHED] = {.fd = watched, .events = POLLIN}, /* the union's end: the container ended at once, as without -t */
    };
    int n = poll(p, 6, !hung_up && in.len > 0 ? delay : -1);
    if (n < 0 && errno != EINTR) break;
    if (n < 0) continue;
    if (p[EXITED].revents) break;
    if (p[WATCHED].revents && w->fired(w->ctx)) watched = -1; /* the helper's end follows */
    if (p[MASTER].revents) {
      ssize_t got = read(t->master, out.data, sizeof out.data);
      if (got > 0) out.at = 0, out.len = (size_t)got;
      else if (got == 0 || (errno != EAGAIN && errno != EINTR)) master_open = 0; /* not while the slave is held */
    }
    if (p[OUT].revents) {
      ssize_t w = write(1, out.data + out.at, out.len - out.at);
      if (w > 0 && (out.at += (size_t)w) == out.len) out.at = out.len = 0;
      if (w < 0 && errno != EAGAIN && errno != EINTR) { /* EPIPE: the terminal closed; the run goes on */
        hung_up = 1;
        out.at = out.len = in.at = in.len = 0;
        hang_up(t);
      }
    }
    if (p[IN].revents) {
      ssize_t got = read(0, in.data, sizeof in.data);
      if (got > 0) in.at = 0, in.len = (size_t)got, delay = RETRY_FIRST_MS;
      else if (got == 0 || (errno != EAGAIN && errno != EINTR)) input = 0; /* its end sends nothing */
    }
    if (!hung_up && in.len > 0) /* typed at once, or tried again once the delay has passed */
      delay = type_held(t, &in) ? RETRY_FIRST_MS : (delay * 2 < RETRY_LAST_MS ? delay * 2 : RETRY_LAST_MS);
    if (p[WINCH].revents && !hung_up) {
      struct signalfd_siginfo info;
      while (read(winch, &info, sizeof info) > 0) {}
      struct winsize ws;
      if (size_of(t->size_from, &ws)) ioctl(t->master, TIOCSWINSZ, &ws); /* the container may be gone: no matter */
    }
  }
  int code = wait_status(helper);
  if (!hung_up) drain(t, &out); /* what the container did not take of the input is dropped */
  tty_close(t);
  tty_restore(t);
  return code;
}
