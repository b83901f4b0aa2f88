import { describe, expect, it } from 'vitest';
import { closeSync, lstatSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fstatRaw, lstatRaw } from '../../src/sys/stat.js';

describe('lstatRaw', () => {
  it('reads what lstat reads, times to the nanosecond, without following a symlink', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-stat-'));
    try {
      writeFileSync(join(dir, 'f'), 'hello');
      symlinkSync('f', join(dir, 'l'));
      for (const name of ['f', 'l']) {
        const p = join(dir, name);
        const want = lstatSync(p, { bigint: true });
        const got = lstatRaw(p)!;
        expect(got).toMatchObject({
          ino: Number(want.ino),
          mode: Number(want.mode),
          nlink: Number(want.nlink),
          uid: Number(want.uid),
          size: Number(want.size),
        });
        expect(BigInt(got.mtimeSec) * 1_000_000_000n + BigInt(got.mtimeNsec)).toBe(want.mtimeNs);
        expect(BigInt(got.ctimeSec) * 1_000_000_000n + BigInt(got.ctimeNsec)).toBe(want.ctimeNs);
      }
      const fd = openSync(join(dir, 'f'), 'r');
      expect(fstatRaw(fd)).toEqual(lstatRaw(join(dir, 'f')));
      closeSync(fd);
      expect(lstatRaw(join(dir, 'missing'))).toBeUndefined();
      expect(() => lstatRaw(join(dir, 'f', 'x'))).toThrow(/ENOTDIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
