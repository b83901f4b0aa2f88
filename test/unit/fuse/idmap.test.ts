import { describe, expect, it } from 'vitest';
import { creatorId, diskId, toDisk, toMount, type IdRange } from '../../../fuse/idmap.js';

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

  it('maps one to one without a list; a chown to an unmapped id is EINVAL, a creator outside owns as the overflow id', () => {
    expect([toMount(undefined, 7, 65534), toDisk(undefined, 7)]).toEqual([7, 7]);
    expect(() => diskId(RANGES, 5)).toThrow(expect.objectContaining({ errno: 22 }));
    expect(diskId(RANGES, 110001)).toBe(2);
    const shift = { uids: RANGES, overflowUid: 65534, overflowGid: 65533 };
    expect([creatorId(shift, 1000, 'uid'), creatorId(shift, 5, 'uid'), creatorId(shift, 5, 'gid')]).toEqual([
      0, 65534, 5,
    ]);
    expect(creatorId({ ...shift, gids: [] }, 5, 'gid')).toBe(65533);
  });
});
