// Runs the built CLI (bin/hutch) the way a user would, with its state in the test's own directory.
import { execa, type Options, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
export const HUTCH = join(REPO, 'bin', 'hutch');

/** A per-test scratch directory with hutch's state (--root) inside; `remove()` deletes it. */
export interface Sandbox {
  dir: string;
  root: string;
  remove(): void;
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-test-'));
  return { dir, root: join(dir, 'state'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `hutch ARGS` with reject: false; inspect exitCode, stdout, stderr. */
export function hutch(args: string[], options: Options = {}): ResultPromise {
  const stdin = options.input === undefined && options.inputFile === undefined && options.stdio === undefined ? { stdin: 'ignore' as const } : {};
  return execa(process.execPath, [HUTCH, ...args], { reject: false, ...stdin, ...options, env: { HUTCH_DEBUG: '', ...options.env } });
}
