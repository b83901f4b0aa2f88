import { SysError } from '../errors.js';
import { check, libcFunction } from './libc.js';

/**
 * A SOCK_SEQPACKET unix socket client (Node's net has stream sockets only): the connection to the
 * shared union daemon (fuse/shared.ts), whose messages keep their bounds (the argument line, then
 * the holder's fd). Plain fds: the holder (native/fs-holder.c) inherits the connection.
 */
const socketC = libcFunction('int socket(int domain, int type, int protocol)');
const connectC = libcFunction('int connect(int fd, void *addr, uint32_t len)');
const sendC = libcFunction('long send(int fd, void *buf, size_t len, int flags)');
const closeC = libcFunction('int close(int fd)');
const pollC = libcFunction('int poll(void *fds, unsigned long nfds, int timeout)');
const recvC = libcFunction('long recv(int fd, void *buf, size_t len, int flags)');
const POLLIN = 1;
const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sun_path): the longest socket path, NUL included. */
export const SUN_PATH_MAX = 108;

/**
 * Connects to `path`; the fd (close-on-exec), or undefined when nobody listens there (ENOENT,
 * ECONNREFUSED: no daemon, or one killed -9 that left its socket). Other failures throw.
 */
export function connectSeqpacket(path: string): number | undefined {
  const bytes = Buffer.from(path);
  if (bytes.length >= SUN_PATH_MAX) throw new SysError('connect', 36, 'ENAMETOOLONG', path);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  const fd = check('socket', socketC(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0) as number, path);
  try {
    check('connect', connectC(fd, addr, addr.length) as number, path);
    return fd;
  } catch (error) {
    closeC(fd);
    const code = (error as SysError).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined;
    throw error;
  }
}

/** Sends one message, whole (EPIPE when the peer is gone, never SIGPIPE). */
export function sendMessage(fd: number, message: Buffer): void {
  const sent = Number(check('send', sendC(fd, message, message.length, MSG_NOSIGNAL) as bigint | number));
  if (sent !== message.length) throw new SysError('send', 90, 'EMSGSIZE', `fd ${fd}`);
}

/**
 * The next message on `fd`, waiting at most `ms`: its bytes, an empty buffer at the end of the
 * connection (the peer closed it or exited), or undefined when nothing came in time.
 */
export function receiveMessage(fd: number, ms: number): Buffer | undefined {
  const deadline = Date.now() + ms;
  const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  for (;;) {
    const left = deadline - Date.now();
    if (left < 0) return undefined;
    const ready = pollC(pfd, 1, left) as number;
    if (ready === 0) return undefined;
    if (ready < 0) {
      try {
        check('poll', -1, `fd ${fd}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EINTR') continue;
        throw error;
      }
    }
    const buf = Buffer.alloc(4096);
    const got = Number(check('recv', recvC(fd, buf, buf.length, 0) as bigint | number));
    return buf.subarray(0, got);
  }
}
