import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that readers see the old content or the new, never a mix: write a temporary
 * file beside it, fsync, rename over, fsync the directory. `durable: false` leaves out the two
 * fsyncs, for files a crash makes moot (the OCI face's records and pid files describe processes
 * a crash ends; runc does not sync them either): each costs a disk flush.
 */
export function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o644, durable = true): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    writeFileSync(temp, data, { mode });
    if (durable) syncFile(temp);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  if (durable) syncDirectory(dir);
}

/** fsyncs a directory so a rename or create inside it survives a crash. */
export function syncDirectory(dir: string): void {
  syncFile(dir);
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
