import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, libcFunction } from './libc.js';

/**
 * Writes a file so that readers see the old content or the new, never a mix: write a temporary
 * file beside it, fsync, rename over, fsync the directory.
 */
export function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    writeFileSync(temp, data, { mode });
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncDirectory(dir);
}

/** fsyncs a directory so a rename or create inside it survives a crash. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

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
