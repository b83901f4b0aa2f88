// State directories must be the user's own (issue 13, finding 6): a /tmp/hutch-UID made first by
// another user, a world-writable or symlinked --root are refused, never trusted.
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hutchPaths, privateDir, privateTmpDir } from '../../src/paths.js';

const dirs: string[] = [];
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'hutch-paths-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('state-dir-takeover', () => {
  it("refuses a directory others may write to, a symlink, or another user's", () => {
    const open = scratch();
    chmodSync(open, 0o777);
    expect(() => privateDir(open, '--root')).toThrow(
      expect.objectContaining({
        code: 'STATE_DIR_UNSAFE',
        message: `cannot use ${open} as --root: others may write to it (mode 777)`,
      }),
    );
    const link = join(scratch(), 'link');
    symlinkSync(scratch(), link);
    expect(() => hutchPaths(link)).toThrow(/it is a symlink/);
    if (process.getuid!() !== 0) expect(() => privateDir('/', 'x')).toThrow(/it belongs to uid 0, not to you/);
  });

  it('makes the /tmp runtime directory 0700 itself, and refuses it once another may write to it', () => {
    const dir = join(scratch(), 'hutch-1');
    expect(privateTmpDir(dir)).toBe(dir);
    chmodSync(dir, 0o777);
    expect(() => privateTmpDir(dir)).toThrow(/others may write to it/);
  });

  it("accepts a missing --root (hutch makes it) and the user's own", () => {
    const mine = scratch();
    expect(hutchPaths(mine)).toEqual({ data: join(mine, 'data'), run: join(mine, 'run') });
    expect(hutchPaths(join(mine, 'missing')).run).toBe(join(mine, 'missing', 'run'));
  });
});
