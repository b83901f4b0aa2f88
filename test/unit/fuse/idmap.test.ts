import { describe, expect, it } from 'vitest';
import { diskId, toDisk, toMount, type IdRange } from '../../../fuse/idmap.js';

// fuse-overlayfs's man page example: uid_map "0 1000 1" and "1 110000 65536" on one line.
const RANGES: IdRange[] = [
  { disk: 0, mount: 1000, len: 1 },
  { disk: 1, mount: 110000, len: 65536 },
];

describe('id shifting between the layers and the mount', () => {
  it('shows an id on disk as its id in the mount, the overflow id outside every range', () => {
    expect([0, 1, 65536, 65537, 4000000].map((id) => toMount(RANGES, id, 65534))).toEqual([
      1000, 110000, 175535, 65534, 65534,
    ]);
  });

  it('stores an id of the mount as its id on disk, none outside every range', () => {
    expect([1000, 110000, 175535, 999, 175536, 0].map((id) => toDisk(RANGES, id))).toEqual([
      0,
      1,
      65536,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('maps one to one without a list, and refuses an unmapped id with the errno asked', () => {
    expect([toMount(undefined, 7, 65534), toDisk(undefined, 7)]).toEqual([7, 7]);
    expect(() => diskId(RANGES, 5)).toThrow(expect.objectContaining({ errno: 22 }));
    expect(() => diskId(RANGES, 5, 75)).toThrow(expect.objectContaining({ errno: 75 }));
    expect(diskId(RANGES, 110001)).toBe(2);
  });
});
