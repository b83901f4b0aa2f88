// A host tool stood in for by a test's own script (a failing newuidmap, an old `node`): the test
// says what the tool does; the folder, the file and its mode are this plumbing, the same for all.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `script` (a whole script, its `#!` line included) as DIR/NAME, executable by everyone
 * (the tools run as the test user, or from a namespace's other ids), DIR made if missing.
 * Returns DIR, to put first on PATH (firstOnPath).
 */
export function fakeTool(dir: string, name: string, script: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), script);
  chmodSync(join(dir, name), 0o755); // writeFileSync's mode is masked by the umask
  return dir;
}

/** A PATH value that finds DIR's tools first, then those of `rest` (this process's PATH by default). */
export function firstOnPath(dir: string, rest = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'): string {
  return `${dir}:${rest}`;
}
