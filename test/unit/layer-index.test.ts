import { describe, expect, it } from 'vitest';
import { decodeLayerIndex, encodeLayerIndex, EntryKind, OPAQUE, type IndexEntry } from '../../fuse/layer-index.js';

const entry = (over: Partial<IndexEntry>): IndexEntry => ({
  path: 'etc',
  kind: EntryKind.Dir,
  flags: 0,
  mode: 0o755,
  uid: 0,
  gid: 0,
  rdev: 0,
  size: 0,
  mtimeSec: 1700000000,
  mtimeNsec: 5,
  link: '',
  xattrs: new Map(),
  ...over,
});

describe('layer index', () => {
  it('round-trips every field', () => {
    const entries = [
      entry({ flags: OPAQUE }),
      entry({ path: 'usr/bin/passwd', kind: EntryKind.File, mode: 0o4755, uid: 1000, gid: 42, size: 2 ** 33 }),
      entry({
        path: 'bin/sh',
        kind: EntryKind.Symlink,
        link: 'busybox',
        xattrs: new Map([['security.capability', Buffer.from([1, 2, 3])]]),
      }),
      entry({ path: 'dev/null', kind: EntryKind.Char, rdev: (1 << 8) | 3 }),
      entry({ path: 'gone', kind: EntryKind.Whiteout }),
    ];
    expect(decodeLayerIndex(encodeLayerIndex(entries))).toEqual(entries);
  });

  it('refuses a truncated index', () => {
    const bytes = encodeLayerIndex([entry({ path: 'a/long/path' })]);
    expect(() => decodeLayerIndex(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});
