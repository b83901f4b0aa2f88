import { readSync } from 'node:fs';
import { check, libcFunction } from './libc.js';

/**
 * Pseudo-terminal calls Node lacks: openpty, the window size of a terminal (tty_ioctl(4)), the
 * slave of a master, and a read or write of a master without waiting.
 */
export interface WindowSize {
  rows: number;
  cols: number;
}

const openptyFn = libcFunction('int openpty(_Out_ int *master, _Out_ int *slave, void *name, void *termp, void *winp)');
const ioctlBuf = libcFunction('int ioctl(int fd, unsigned long request, void *arg)');
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const ioctlInt = libcFunction('int ioctl(int fd, unsigned long request, int arg)');
const fcntlInt = libcFunction('int fcntl(int fd, int cmd, int arg)');
const TIOCGPTPEER = 0x5441;
const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;

/** Opens a new pty pair; both fds are the caller's to close. */
export function openpty(size?: WindowSize): { master: number; slave: number } {
  const master = [0];
  const slave = [0];
  check('openpty', openptyFn(master, slave, null, null, null));
  if (size !== undefined) setWindowSize(master[0]!, size);
  return { master: master[0]!, slave: slave[0]! };
}

/** The window size of terminal `fd` (TIOCGWINSZ). */
export function getWindowSize(fd: number): WindowSize {
  const buf = Buffer.alloc(8);
  check('ioctl TIOCGWINSZ', ioctlBuf(fd, TIOCGWINSZ, buf));
  return { rows: buf.readUInt16LE(0), cols: buf.readUInt16LE(2) };
}

/** Sets the window size of terminal `fd` (TIOCSWINSZ); the foreground process gets SIGWINCH. */
export function setWindowSize(fd: number, size: WindowSize): void {
  const buf = Buffer.alloc(8);
  buf.writeUInt16LE(size.rows, 0);
  buf.writeUInt16LE(size.cols, 2);
  check('ioctl TIOCSWINSZ', ioctlBuf(fd, TIOCSWINSZ, buf));
}

/**
 * Opens a slave of pty `master` (TIOCGPTPEER: through the master's own devpts, whichever mount
 * namespace it lives in), close-on-exec and never the caller's controlling terminal. While one is
 * open the master never reads EIO nor polls POLLHUP: its reader decides where the output ends.
 */
export function openPeer(master: number): number {
  return check('ioctl TIOCGPTPEER', ioctlInt(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
}

/**
 * Reads everything pty `master` holds now, without waiting (the fd turns non-blocking), passing
 * each piece to `onChunk`; ends at EAGAIN (nothing more, the slave held) or EIO (no slave left).
 * The kernel moves what the slave wrote into the master's buffer before it says EAGAIN.
 */
export function readPending(master: number, onChunk: (chunk: Buffer) => void): void {
  setNonBlocking(master);
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(master, buf, 0, buf.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EIO') return;
      throw error;
    }
    if (n === 0) return;
    onChunk(Buffer.from(buf.subarray(0, n)));
  }
}

/**
 * Makes `fd` non-blocking (O_NONBLOCK, on its open file description: every copy of it). Node's
 * tty streams leave a pty master opened read-write blocking (libuv writes to it blocking), so a
 * write into a full pty would stop the whole process.
 */
export function setNonBlocking(fd: number): void {
  const flags = check('fcntl F_GETFL', fcntlInt(fd, F_GETFL, 0));
  if ((flags & O_NONBLOCK) === 0) check('fcntl F_SETFL', fcntlInt(fd, F_SETFL, flags | O_NONBLOCK));
}
