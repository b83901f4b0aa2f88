import { check, libcFunction, reusedCPath } from './libc.js';
import { closeFd } from './fdops.js';

/**
 * Paths longer than the kernel takes in one system call (PATH_MAX, 4096 bytes with its NUL):
 * a file deep in a layer whose own directory already has a long path. Its parent directory is
 * reached by openat(2), a piece of at most SHORT bytes at a time, each relative to the last, and
 * the file named through that directory's descriptor (/proc/self/fd/N/NAME). Paths that fit are
 * returned as they are: no system call in the common case.
 */
const openatC = libcFunction('int openat(int dirfd, void *path, int flags, uint32_t mode)');
const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
/** Longest path passed whole: PATH_MAX less room for /proc/self/fd/N/ and a NUL. */
const SHORT = 4000;

// The last long directory reached (the daemon is one thread: a path is used before the next call).
let held: { dir: string; fd: number } | undefined;

/**
 * A path (a latin1 byte string) the kernel accepts for `path`: `path` itself when it is short
 * enough, else NAME under a descriptor of its parent. Valid until the next call.
 */
export function reachable(path: string): string {
  if (path.length < SHORT) return path;
  const cut = path.lastIndexOf('/');
  const dir = path.slice(0, cut);
  if (held?.dir !== dir) {
    const fd = openDirectory(dir);
    if (held !== undefined) closeFd(held.fd);
    held = { dir, fd };
  }
  return `/proc/self/fd/${held.fd}/${path.slice(cut + 1)}`;
}

/** Opens a directory (O_PATH) of any length, by pieces that each fit one system call. */
function openDirectory(dir: string): number {
  let fd = AT_FDCWD;
  let rest = dir;
  while (rest !== '') {
    const cut = rest.length <= SHORT ? rest.length : rest.lastIndexOf('/', SHORT);
    const piece = rest.slice(0, cut) || '/';
    try {
      const next = check(
        'openat',
        openatC(fd, reusedCPath(piece), O_PATH | O_DIRECTORY | O_CLOEXEC, 0) as number,
        piece,
      );
      if (fd !== AT_FDCWD) closeFd(fd);
      fd = next;
    } catch (e) {
      if (fd !== AT_FDCWD) closeFd(fd);
      throw e;
    }
    rest = rest.slice(cut + 1);
  }
  return fd;
}
