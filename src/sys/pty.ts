import { check, libcFunction } from './libc.js';

/** Pseudo-terminal calls Node lacks: openpty, and the window size of a terminal (tty_ioctl(4)). */
export interface WindowSize {
  rows: number;
  cols: number;
}

const openptyFn = libcFunction('int openpty(_Out_ int *master, _Out_ int *slave, void *name, void *termp, void *winp)');
const ioctlBuf = libcFunction('int ioctl(int fd, unsigned long request, void *arg)');
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;

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
