// vfs copies keep holes (issue 13, finding 7): a sparse file in an image must not become dense.
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { copySparse } from '../../src/sys/sparse-copy.js';

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

it('sparse-vfs: copySparse keeps a 64 MiB file with 8 KiB of data sparse and byte-identical', () => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-sparse-'));
  const src = join(dir, 'src'),
    dest = join(dir, 'dest');
  const fd = openSync(src, 'w');
  ftruncateSync(fd, 64 << 20);
  writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 1 << 20);
  writeSync(fd, Buffer.alloc(4096, 2), 0, 4096, (64 << 20) - 4096);
  closeSync(fd);
  copySparse(src, dest);
  expect(statSync(dest).size).toBe(64 << 20);
  expect(statSync(dest).blocks * 512).toBeLessThan(1 << 20);
  expect(readFileSync(dest).equals(readFileSync(src))).toBe(true);
});
