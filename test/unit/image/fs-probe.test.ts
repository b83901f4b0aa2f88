// The store's filesystem probe: what it finds on this (local) filesystem, its cache, and the
// errors a filesystem without hard links or user xattrs gets (from a cached probe of one).
import { mkdtempSync, readdirSync, readFileSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { probe, requireLayerFs, requireUpperFs, storeFs } from '../../../src/image/fs-probe.js';

const fresh = (): string => mkdtempSync(join(tmpdir(), 'hutch-probe-'));
const key = (dir: string): string => `${statSync(dir).dev}:${statfsSync(dir).type}`;

describe('store filesystem probe', () => {
  test('a local filesystem has user xattrs, hard links and symlinks; the probe leaves nothing behind', () => {
    const dir = fresh();
    expect(probe(dir)).toMatchObject({ userXattrs: true, hardLinks: true, symlinks: true });
    expect(readdirSync(dir)).toEqual([]);
  });

  test('the result is cached in the store by device and filesystem type', () => {
    const dir = fresh();
    const found = storeFs(dir, dir);
    expect(JSON.parse(readFileSync(join(dir, '.fs-probe.json'), 'utf8'))).toEqual({ [key(dir)]: found });
    // The cache is what later commands read: a cached "no" is believed without a new probe.
    writeFileSync(
      join(dir, '.fs-probe.json'),
      JSON.stringify({ [key(dir)]: { ...found, type: 'nfs', userXattrs: false } }),
    );
    expect(storeFs(dir, dir)).toMatchObject({ type: 'nfs', userXattrs: false });
  });

  test('no hard links: layers refused with STORE_FS_UNSUPPORTED; no user xattrs: UPPER_FS_NO_XATTRS', () => {
    const dir = fresh();
    const caps = { type: 'nfs', userXattrs: false, hardLinks: false, symlinks: true };
    writeFileSync(join(dir, '.fs-probe.json'), JSON.stringify({ [key(dir)]: caps }));
    expect(() => requireLayerFs(dir, dir)).toThrow(
      expect.objectContaining({
        code: 'STORE_FS_UNSUPPORTED',
        message: `cannot keep image layers in ${dir}: its filesystem (nfs) refuses hard links`,
      }),
    );
    expect(() => requireUpperFs(dir, dir)).toThrow(expect.objectContaining({ code: 'UPPER_FS_NO_XATTRS' }));
    writeFileSync(join(dir, '.fs-probe.json'), JSON.stringify({ [key(dir)]: { ...caps, hardLinks: true } }));
    expect(() => requireLayerFs(dir, dir)).not.toThrow();
  });
});
