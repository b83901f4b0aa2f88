import { check, libcFunction, reusedCPath } from './libc.js';
import { packTimes, type Time } from './fsx.js';

/**
 * File calls on open descriptors (fchown, fchmod, futimens) and open/close straight through
 * koffi: no path walk where a descriptor is at hand, no Node fs argument checks, no path buffer
 * allocated (reusedCPath). The FUSE daemon makes a few of these for every file a container creates.
 */
const openC = libcFunction('int open(void *path, int flags, uint32_t mode)');
const closeC = libcFunction('int close(int fd)');
const fchownC = libcFunction('int fchown(int fd, uint32_t uid, uint32_t gid)');
const fchmodC = libcFunction('int fchmod(int fd, uint32_t mode)');
const futimensC = libcFunction('int futimens(int fd, void *times)');
const dup2C = libcFunction('int dup2(int oldfd, int newfd)');
const fcntlIntC = libcFunction('int fcntl(int fd, int cmd, int arg)');
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;

/** open(2) of a path (a latin1 byte string); returns the fd (close-on-exec). */
export function openPath(path: string, flags: number, mode: number): number {
  return check('open', openC(reusedCPath(path), flags | O_CLOEXEC, mode) as number, path);
}

export function closeFd(fd: number): void {
  check('close', closeC(fd) as number, `fd ${fd}`);
}

/** dup2(2): `fd` also as `target` (closed first if open; not close-on-exec: an exec'd program has it). */
export function dupOnto(fd: number, target: number): void {
  check('dup2', dup2C(fd, target) as number, `fd ${fd} onto ${target}`);
}

/** A close-on-exec copy of `fd` above stdio (the same open file: its offset, its O_APPEND). */
export function dupAbove(fd: number): number {
  return check('fcntl F_DUPFD_CLOEXEC', fcntlIntC(fd, F_DUPFD_CLOEXEC, 3) as number, `fd ${fd}`);
}

export function fchown(fd: number, uid: number, gid: number): void {
  check('fchown', fchownC(fd, uid, gid) as number, `fd ${fd}`);
}

export function fchmod(fd: number, mode: number): void {
  check('fchmod', fchmodC(fd, mode) as number, `fd ${fd}`);
}

/** futimens(2): [seconds, nanoseconds], 'now', or undefined to leave a time as it is. */
export function futimens(fd: number, atime: Time, mtime: Time): void {
  check('futimens', futimensC(fd, packTimes(atime, mtime)), `fd ${fd}`);
}
