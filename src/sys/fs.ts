import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, libcFunction } from './libc.js';

// Kept apart so that code with no foreign call (the OCI face's state verbs) writes without koffi.
export { atomicWriteFile, syncDirectory } from './atomic-write.js';

const flock = libcFunction('int flock(int fd, int operation)');
const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * Runs `fn` holding an exclusive flock on `lockFile` (created if missing). flock is released by
 * the kernel when the process dies, so a killed command never leaves a stale lock. The wait polls
 * with LOCK_NB: a blocking flock would stall Node's event loop.
 */
export async function withLock<T>(lockFile: string, fn: () => Promise<T> | T): Promise<T> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const fd = openSync(lockFile, 'a');
  try {
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      if (flock(fd, LOCK_EX | LOCK_NB) === 0) break;
      try {
        check('flock', -1, lockFile);
      } catch (error) {
        if ((error as { code?: string }).code !== 'EWOULDBLOCK' && (error as { code?: string }).code !== 'EAGAIN')
          throw error;
      }
      await sleep(wait);
    }
    return await fn();
  } finally {
    closeSync(fd); // closing the last fd of the open file description releases the lock
  }
}
