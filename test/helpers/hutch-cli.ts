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

/**
 * An open fd as an execa stdio value. execa passes any fd on (its documentation); its types name
 * only some, so the value is typed to fit every stdio slot.
 */
export function fdStdio(fd: number): never {
  return fd as never;
}

/** What hutch() gives: a child process whose result has stdout and stderr as text (never rejects). */
export type HutchResultPromise = ResultPromise<{ reject: false }>;

/** `hutch ARGS` with reject: false; inspect exitCode, stdout, stderr. */
export function hutch(args: string[], options: Options = {}): HutchResultPromise {
  const stdin =
    options.input === undefined && options.inputFile === undefined && options.stdio === undefined
      ? { stdin: 'ignore' as const }
      : {};
  // The options may set stdio to fds and streams; the text result is what the tests read.
  return execa(process.execPath, [HUTCH, ...args], {
    reject: false,
    ...stdin,
    ...options,
    env: { HUTCH_DEBUG: '', ...options.env },
  }) as unknown as HutchResultPromise;
}

/** Resolves once the child's stdout has shown `text` (a container saying it is up). */
export function untilOutput(child: { stdout: NodeJS.ReadableStream | null }, text: string): Promise<void> {
  let seen = '';
  return new Promise<void>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => (seen += d.toString()).includes(text) && resolve()),
  );
}
