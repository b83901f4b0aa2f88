/* hutch-forwarder: hutch's port forwarder (net/forwarder.ts), run inside the container's network
 * namespace. It inherits the host sockets hutch bound in the host's namespace (a socket keeps the
 * namespace it was made in) and serves them: each host connection gets a connection to TARGET:PORT
 * made here, inside the namespace, and bytes are copied both ways; UDP datagrams go through one
 * connected socket per client (flow), closed after 60 s without traffic.
 * A C process rather than Node: one per container with published ports, resident ~1 MB.
 *
 * Usage: hutch-forwarder [--userns=PATH [--tap=NAME]] tcp|udp:FD:PORT:TARGET...
 * Without --userns it is entered into an existing namespace (nsenter). With it, it makes the
 * container's network namespace itself, before the container exists (issue 17: slirp4netns and
 * the forwarder then start while the union filesystem mounts, and the container joins): it joins
 * the user namespace at PATH (the union holder's, which the container lives in, so that the new
 * namespace is owned by it), unshares a network namespace, brings lo up and makes the tap device
 * NAME (persistent, for slirp4netns: docs/wire.md, TAP). Either way it then drops every
 * capability (it only copies bytes). fd 3 is the control pipe to hutch: "ready\n" is written there
 * once the namespace is made and every socket is served; its end (hutch gone) ends the forwarder.
 * With no sockets it only holds the new namespace until hutch ends it.
 * Single-threaded, level-triggered epoll; each TCP direction has one buffer: read when it is
 * empty, write when it is not, and pass the end (FIN) on once it is drained. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
#define UDP_IDLE_SECONDS 60
#define CONTROL_FD 3

enum kind { CONTROL, LISTEN_TCP, LISTEN_UDP, TCP_SIDE, UDP_FLOW };

struct target { struct sockaddr_storage addr; socklen_t len; };

/* What an epoll event points at: a listener, the control pipe, a TCP side or a UDP flow. */
struct item { enum kind kind; int fd; struct target *target; struct pair *pair; struct flow *flow; };

struct half { char buf[BUF]; size_t start, end; int eof, shut; };

/* One forwarded TCP connection: side 0 the host's client, side 1 the connection inside. */
struct pair { struct item side[2]; struct half to[2]; int connected, dead; struct pair *next_dead; };

struct flow { struct item item; struct item *listener; struct sockaddr_storage peer; socklen_t peerlen;
              time_t last; struct flow *next; };

static int ep;
static struct flow *flows;
static struct pair *dead; /* pairs closed during this batch of events, freed after it */

static void die(const char *what) { fprintf(stderr, "hutch-forwarder: %s: %s\n", what, strerror(errno)); exit(1); }

static void watch(struct item *item, uint32_t events, int op) {
  struct epoll_event ev = { .events = events, .data.ptr = item };
  if (epoll_ctl(ep, op, item->fd, &ev) < 0) die("epoll_ctl");
}

static int parse_target(const char *host, int port, struct target *t) {
  struct sockaddr_in *v4 = (struct sockaddr_in *)&t->addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->addr;
  memset(t, 0, sizeof *t);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET, v4->sin_port = htons(port), t->len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6, v6->sin6_port = htons(port), t->len = sizeof *v6;
    return 0;
  }
  return -1;
}

/* A later event of the same batch may still point at `p`: it is freed after the batch. */
static void pair_free(struct pair *p) {
  p->dead = 1, p->next_dead = dead, dead = p;
}

/* Tears a connection down at once (a reset on each side still open), as on an error. */
static void pair_abort(struct pair *p) {
  struct linger reset = { 1, 0 };
  for (int i = 0; i < 2; i++) {
    setsockopt(p->side[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(p->side[i].fd); /* closing removes it from the epoll set */
  }
  pair_free(p);
}

/* The events each side waits for now: input while its buffer is empty, output while the other's
 * is not (or while the inner connect is in progress). */
static void pair_rewatch(struct pair *p) {
  for (int i = 0; i < 2; i++) {
    struct half *in = &p->to[1 - i], *out = &p->to[i];
    uint32_t events = 0;
    if (p->connected && !in->eof && in->start == in->end) events |= EPOLLIN;
    if (!p->connected ? i == 1 : out->start != out->end) events |= EPOLLOUT;
    watch(&p->side[i], events, EPOLL_CTL_MOD);
  }
}

/* Moves what it can from side `from` to the other; returns -1 when the pair must be aborted. */
static int pair_pump(struct pair *p, int from) {
  struct half *h = &p->to[1 - from];
  int src = p->side[from].fd, dst = p->side[1 - from].fd;
  if (h->start == h->end && !h->eof) {
    ssize_t n = read(src, h->buf, BUF);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    if (n == 0) h->eof = 1;
    if (n > 0) h->start = 0, h->end = (size_t)n;
  }
  if (h->start != h->end) {
    ssize_t n = send(dst, h->buf + h->start, h->end - h->start, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    if (n > 0) h->start += (size_t)n;
  }
  if (h->eof && h->start == h->end && !h->shut) shutdown(dst, SHUT_WR), h->shut = 1;
  return 0;
}

static void pair_event(struct item *item, uint32_t events) {
  struct pair *p = item->pair;
  if (p->dead) return;
  int side = item == &p->side[1];
  if (!p->connected) { /* the inner connect finished, or failed */
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p->side[1].fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) return pair_abort(p);
    p->connected = 1;
  } else if ((events & EPOLLERR) || pair_pump(p, side) < 0 || pair_pump(p, 1 - side) < 0) {
    return pair_abort(p);
  }
  if (p->to[0].shut && p->to[1].shut) {
    close(p->side[0].fd), close(p->side[1].fd), pair_free(p);
    return;
  }
  pair_rewatch(p);
}

static void tcp_accept(struct item *listener) {
  int one = 1, client = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (client < 0) return;
  int inner = socket(listener->target->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct pair *p = calloc(1, sizeof *p);
  if (inner < 0 || p == NULL) { close(client); if (inner >= 0) close(inner); free(p); return; }
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(inner, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (int i = 0; i < 2; i++) p->side[i] = (struct item){ .kind = TCP_SIDE, .fd = i ? inner : client, .pair = p };
  int r = connect(inner, (struct sockaddr *)&listener->target->addr, listener->target->len);
  if (r < 0 && errno != EINPROGRESS) {
    close(inner); /* refused at once: the client is reset, as nothing listens inside */
    p->side[1].fd = -1;
    struct linger reset = { 1, 0 };
    setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(client), free(p);
    return;
  }
  p->connected = r == 0;
  watch(&p->side[0], 0, EPOLL_CTL_ADD);
  watch(&p->side[1], 0, EPOLL_CTL_ADD);
  pair_rewatch(p);
}

static void udp_from_client(struct item *listener) {
  char buf[BUF];
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  ssize_t n = recvfrom(listener->fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
  if (n < 0) return;
  struct flow *f = flows;
  while (f && !(f->listener == listener && f->peerlen == len && memcmp(&f->peer, &peer, len) == 0)) f = f->next;
  if (f == NULL) {
    int inner = socket(listener->target->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (inner < 0) return;
    if (connect(inner, (struct sockaddr *)&listener->target->addr, listener->target->len) < 0 ||
        (f = calloc(1, sizeof *f)) == NULL) { close(inner); return; }
    f->item = (struct item){ .kind = UDP_FLOW, .fd = inner, .flow = f };
    f->listener = listener, f->peer = peer, f->peerlen = len, f->next = flows, flows = f;
    watch(&f->item, EPOLLIN, EPOLL_CTL_ADD);
  }
  f->last = time(NULL);
  send(f->item.fd, buf, (size_t)n, 0); /* a refusal (nothing listens yet) drops it, as UDP does */
}

static void udp_to_client(struct flow *f) {
  char buf[BUF];
  ssize_t n = recv(f->item.fd, buf, sizeof buf, 0);
  if (n < 0) return; /* ICMP refusals while nothing listens yet */
  f->last = time(NULL);
  sendto(f->listener->fd, buf, (size_t)n, 0, (struct sockaddr *)&f->peer, f->peerlen);
}

static void udp_expire(void) {
  time_t now = time(NULL);
  for (struct flow **link = &flows; *link;) {
    struct flow *f = *link;
    if (now - f->last < UDP_IDLE_SECONDS) { link = &f->next; continue; }
    *link = f->next;
    close(f->item.fd), free(f);
  }
}

/* The interface `name` of this network namespace up (lo: 127.0.0.1 answers inside). */
static void link_up(const char *name) {
  struct ifreq ifr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) die("read the flags of lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) die("bring lo up");
  close(fd);
}

/* A persistent, unattached tap device: slirp4netns attaches to it, and its exit then need not wait
 * for the kernel to unregister one it made (nsexec.c do_tap, the same for a namespace it makes). */
static void make_tap(const char *name) {
  struct ifreq ifr;
  if (strlen(name) >= IFNAMSIZ) { errno = ENAMETOOLONG; die("the tap device's name"); }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) die("make the tap device");
  close(fd);
}

/* --userns: a new network namespace owned by the user namespace at `userns` (setns(2) gives every
 * capability there to its owner, which hutch is), lo up, the tap made. */
static void make_netns(const char *userns, const char *tap) {
  int fd = open(userns, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open the user namespace");
  if (setns(fd, CLONE_NEWUSER) < 0) die("join the user namespace");
  close(fd);
  if (unshare(CLONE_NEWNET) < 0) die("make a network namespace");
  link_up("lo");
  if (tap != NULL) make_tap(tap);
}

/* No capability left (it copies bytes on sockets it holds), nor any to gain. */
static void drop_capabilities(void) {
  struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct none[2];
  memset(none, 0, sizeof none);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_capset, &head, none) < 0) die("drop capabilities");
}

/* tcp|udp:FD:PORT:TARGET -> a listener item. */
static struct item *listener_from(const char *arg) {
  char proto[4], host[64];
  int fd, port;
  struct item *item = calloc(1, sizeof *item);
  struct target *t = calloc(1, sizeof *t);
  if (!item || !t || sscanf(arg, "%3[a-z]:%d:%d:%63s", proto, &fd, &port, host) != 4 ||
      (strcmp(proto, "tcp") && strcmp(proto, "udp")) || port < 1 || port > 65535 || parse_target(host, port, t) < 0) {
    fprintf(stderr, "hutch-forwarder: bad argument %s (expected tcp|udp:FD:PORT:TARGET)\n", arg);
    exit(2);
  }
  *item = (struct item){ .kind = proto[0] == 't' ? LISTEN_TCP : LISTEN_UDP, .fd = fd, .target = t };
  return item;
}

int main(int argc, char **argv) {
  static struct item control = { .kind = CONTROL, .fd = CONTROL_FD };
  const char *userns = NULL, *tap = NULL;
  int first = 1;
  for (; first < argc && !strncmp(argv[first], "--", 2); first++) {
    if (!strncmp(argv[first], "--userns=", 9)) userns = argv[first] + 9;
    else if (!strncmp(argv[first], "--tap=", 6)) tap = argv[first] + 6;
    else {
      fprintf(stderr, "hutch-forwarder: unknown option %s (expected --userns=PATH, --tap=NAME)\n", argv[first]);
      exit(2);
    }
  }
  if (tap != NULL && userns == NULL) {
    fprintf(stderr, "hutch-forwarder: --tap needs --userns (the tap is made in the namespace it makes)\n");
    exit(2);
  }
  signal(SIGPIPE, SIG_IGN);
  if (userns != NULL) make_netns(userns, tap);
  drop_capabilities();
  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
  watch(&control, EPOLLIN, EPOLL_CTL_ADD);
  for (int i = first; i < argc; i++) watch(listener_from(argv[i]), EPOLLIN, EPOLL_CTL_ADD);
  if (write(CONTROL_FD, "ready\n", 6) != 6) die("write to hutch");
  for (;;) {
    struct epoll_event events[64];
    int n = epoll_wait(ep, events, 64, flows ? 1000 : -1);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct item *item = events[i].data.ptr;
      switch (item->kind) {
      case CONTROL: return 0; /* hutch closed its end (or wrote to it): done */
      case LISTEN_TCP: tcp_accept(item); break;
      case LISTEN_UDP: udp_from_client(item); break;
      case UDP_FLOW: udp_to_client(item->flow); break;
      case TCP_SIDE: pair_event(item, events[i].events); break;
      }
    }
    for (struct pair *next; dead; dead = next) next = dead->next_dead, free(dead);
    if (flows) udp_expire();
  }
}
