import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Resolves with the exit status (or null when killed by a signal) once `child` has exited. */
export function waitForExit(child: ChildProcess): Promise<number | null> {
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

/** The full path of `tool` on $PATH, or undefined when it is not installed. */
export function findOnPath(tool: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
