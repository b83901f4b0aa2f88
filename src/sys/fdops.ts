import { koffi, libcFunction, errnoName } from './libc.js';
import { SysError } from '../errors.js';
import type { Time } from './fsx.js';

/**
 * File calls on open descriptors (fchown, fchmod, futimens) and open/close straight through
 * koffi: no path walk where a descriptor is at hand, no Node fs argument checks, one reused
 * path buffer. The FUSE daemon makes a few of these for every file a container creates.
 */
const openC = libcFunction('int open(void *path, int flags, uint32_t mode)');
const closeC = libcFunction('int close(int fd)');
const fchownC = libcFunction('int fchown(int fd, uint32_t uid, uint32_t gid)');
const fchmodC = libcFunction('int fchmod(int fd, uint32_t mode)');
const futimensC = libcFunction('int futimens(int fd, void *times)');
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const O_CLOEXEC = 0o2000000;

let pathBuf = Buffer.alloc(4096);
const times = Buffer.alloc(32);

function fail(syscall: string, what: string): never {
  const errno = Math.abs(koffi.errno());
  throw new SysError(syscall, errno, errnoName(errno), what);
}

/** open(2) of a path (a latin1 byte string); returns the fd (close-on-exec). */
export function openPath(path: string, flags: number, mode: number): number {
  if (path.length + 1 > pathBuf.length) pathBuf = Buffer.alloc(path.length + 1);
  pathBuf[pathBuf.write(path, 'latin1')] = 0;
  const fd = openC(pathBuf, flags | O_CLOEXEC, mode) as number;
  if (fd < 0) fail('open', path);
  return fd;
}

export function closeFd(fd: number): void {
  if (closeC(fd) < 0) fail('close', `fd ${fd}`);
}

export function fchown(fd: number, uid: number, gid: number): void {
  if (fchownC(fd, uid, gid) < 0) fail('fchown', `fd ${fd}`);
}

export function fchmod(fd: number, mode: number): void {
  if (fchmodC(fd, mode) < 0) fail('fchmod', `fd ${fd}`);
}

/** futimens(2): [seconds, nanoseconds], 'now', or undefined to leave a time as it is. */
export function futimens(fd: number, atime: Time, mtime: Time): void {
  const put = (t: Time, at: number): void => {
    if (t === undefined || t === 'now') {
      times.writeUInt32LE(0, at);
      times.writeUInt32LE(0, at + 4);
      times.writeUInt32LE(t === 'now' ? UTIME_NOW : UTIME_OMIT, at + 8);
    } else {
      times.writeUInt32LE(t[0] >>> 0, at);
      times.writeInt32LE(Math.floor(t[0] / 0x100000000), at + 4);
      times.writeUInt32LE(t[1], at + 8);
    }
    times.writeUInt32LE(0, at + 12);
  };
  put(atime, 0);
  put(mtime, 16);
  if (futimensC(fd, times) < 0) fail('futimens', `fd ${fd}`);
}
