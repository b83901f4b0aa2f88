import type { ChildProcess } from 'node:child_process';
import type { LightChild } from '../src/sys/spawn-light.js';
import type { Cleanup } from '../src/sys/cleanup.js';
import { readFileSync } from 'node:fs';

/** A helper hutch started: through child_process or posix_spawn (src/sys/spawn-light.ts). */
export type HelperChild = ChildProcess | LightChild;

/** Resolves with the exit status (or null when killed by a signal) once `child` has exited. */
export function waitForExit(child: HelperChild): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null)); // spawn failure: no 'exit' follows
  });
}

/**
 * Sends SIGTERM to `pid` when its command line still contains `marker` (a detached monitor's
 * stop: the pid may have been reused since it was recorded). Returns whether it signalled.
 */
export function stopProcess(pid: number, marker: string): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return false; // already gone
  }
  if (!cmdline.includes(marker)) return false;
  try {
    process.kill(pid, 'SIGTERM');
    return true;
  } catch {
    return false;
  }
}

/** A helper process hutch started: its exit, and the tail of its stderr for error messages. */
export interface Supervised {
  exited: Promise<number | null>;
  /** The last lines of stderr, without `noise` lines, joined with '; '. */
  stderrTail: (noise?: RegExp) => string;
}

/**
 * Joins a just-spawned helper to `cleanup` (SIGTERM, wait, then `after`) and keeps the tail of
 * its stderr, so that a failure to start can say why.
 */
export function supervise(child: HelperChild, what: string, cleanup: Cleanup, after?: () => void): Supervised {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = waitForExit(child);
  try {
    cleanup.add(`${what} ${child.pid ?? '?'}`, async () => {
      child.kill('SIGTERM');
      await exited;
      after?.();
    });
  } catch (error) {
    child.kill('SIGKILL'); // the run is already being torn down (a sibling step failed first)
    throw error;
  }
  const stderrTail = (noise?: RegExp): string =>
    stderr
      .split('\n')
      .filter((line) => line.trim() !== '' && !(noise?.test(line) ?? false))
      .slice(-3)
      .join('; ');
  return { exited, stderrTail };
}
