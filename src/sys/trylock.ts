import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { check, libcFunction } from './libc.js';

const flock = libcFunction('int flock(int fd, int operation)');
const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * Takes an exclusive flock on `path` (created if missing) without waiting; returns the fd that
 * holds it (close it to release), or undefined when another process holds the lock. The kernel
 * drops the lock when its holder dies, so a held lock means a live owner.
 */
export function tryLock(path: string): number | undefined {
  return lockOrClose(openSync(path, 'a'));
}

/**
 * Takes an exclusive flock on `path` (created if missing), waiting as long as it is held: for a
 * process with no event loop to keep responsive (the shared union daemon as it leaves). Returns
 * the fd that holds it; throws when the file cannot be opened or locked.
 */
export function lockWaiting(path: string): number {
  const fd = openSync(path, 'a');
  for (;;) {
    if (flock(fd, LOCK_EX) === 0) return fd;
    try {
      check('flock', -1, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EINTR') continue;
      closeSync(fd);
      throw error;
    }
  }
}

/**
 * tryLock of a lock file that exists already, never made: undefined when another process holds it
 * or when it is gone (its folder removed meanwhile, by its owner or another sweeper). A sweep over
 * folders others remove at the same time uses this: creating the file would race their removal.
 */
export function tryLockExisting(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return lockOrClose(fd);
}

/** The flock without waiting on an open fd: the fd when taken, else closed and undefined. */
function lockOrClose(fd: number): number | undefined {
  if (flock(fd, LOCK_EX | LOCK_NB) === 0) return fd;
  closeSync(fd);
  return undefined;
}

/**
 * The pids holding a flock on `path`, from /proc/locks (pids of this pid namespace): who to ask
 * to finish when a lock means "in use" (a foreground `hutch run` holds its folder's lock).
 */
export function lockHolders(path: string): number[] {
  const st = statSync(path);
  // /proc/locks names the file as MAJOR:MINOR:INODE, major and minor in hex (the kernel's encoding of st_dev).
  const major = ((st.dev >> 8) & 0xfff).toString(16).padStart(2, '0');
  const minor = ((st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)).toString(16).padStart(2, '0');
  const file = `${major}:${minor}:${st.ino}`;
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] === 'FLOCK' && f[5] === file)
    .map((f) => Number(f[4]));
}
