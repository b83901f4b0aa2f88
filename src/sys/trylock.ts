import { closeSync, openSync } from 'node:fs';
import { libcFunction } from './libc.js';

const flock = libcFunction('int flock(int fd, int operation)');
const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * Takes an exclusive flock on `path` (created if missing) without waiting; returns the fd that
 * holds it (close it to release), or undefined when another process holds the lock. The kernel
 * drops the lock when its holder dies, so a held lock means a live owner.
 */
export function tryLock(path: string): number | undefined {
  const fd = openSync(path, 'a');
  if (flock(fd, LOCK_EX | LOCK_NB) === 0) return fd;
  closeSync(fd);
  return undefined;
}
