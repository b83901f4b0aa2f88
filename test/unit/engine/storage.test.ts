import { describe, expect, it } from 'vitest';
import { checkFuse, parseStorageDriver, rootfsPath } from '../../../src/engine/setup/storage.js';

describe('storage driver', () => {
  it('takes fuse (overlay) or vfs, fuse by default', () => {
    expect(parseStorageDriver('overlay')).toBe('fuse');
    expect(parseStorageDriver('vfs')).toBe('vfs');
    expect(parseStorageDriver(undefined)).toBe(process.env.HUTCH_STORAGE_DRIVER === 'vfs' ? 'vfs' : 'fuse');
    expect(() => parseStorageDriver('btrfs')).toThrow('invalid --storage-driver btrfs');
  });

  it('puts the union at the runtime mountpoint and the copy with the container', () => {
    const dirs = { data: '/d/containers/x', run: '/r/containers/x' };
    expect(rootfsPath('fuse', dirs)).toBe('/r/containers/x/merged');
    expect(rootfsPath('vfs', dirs)).toBe('/d/containers/x/rootfs');
  });

  it('says what to do when /dev/fuse is missing', () => {
    let error: unknown;
    try {
      checkFuse('/nonexistent/fuse');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: 'FUSE_UNAVAILABLE',
      message: 'cannot use the union filesystem: /nonexistent/fuse is missing',
    });
    expect((error as { hint: string }).hint).toContain('--storage-driver=vfs');
  });
});
