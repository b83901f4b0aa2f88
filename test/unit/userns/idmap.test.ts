import { describe, expect, it } from 'vitest';
import {
  checkMaps,
  chooseMaps,
  keepIdMaps,
  mapArgs,
  mapText,
  needsHelper,
  parseMapFlag,
  parseMapText,
  requireMapped,
  rootMaps,
  toHost,
} from '../../../src/userns/idmap.js';
import { UserNsError } from '../../../src/errors.js';

const range = [{ start: 100000, count: 65536 }];

describe('rootMaps', () => {
  it('maps the user to root and container id N>0 to range start + N - 1', () => {
    const maps = rootMaps(1001, range);
    expect(maps).toEqual([
      { containerID: 0, hostID: 1001, size: 1 },
      { containerID: 1, hostID: 100000, size: 65536 },
    ]);
    expect(toHost(maps, 0)).toBe(1001);
    expect(toHost(maps, 1000)).toBe(100999);
    expect(toHost(maps, 65536)).toBe(165535);
    expect(toHost(maps, 65537)).toBeUndefined();
  });
  it('with no range maps the user alone', () => {
    expect(rootMaps(1001, [])).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
  });
  it('puts several ranges one after another', () => {
    expect(
      rootMaps(5, [
        { start: 10, count: 2 },
        { start: 50, count: 3 },
      ]),
    ).toEqual([
      { containerID: 0, hostID: 5, size: 1 },
      { containerID: 1, hostID: 10, size: 2 },
      { containerID: 3, hostID: 50, size: 3 },
    ]);
  });
});

describe('keepIdMaps', () => {
  it('maps the user to itself and fills the range around it', () => {
    const maps = keepIdMaps(1001, range);
    expect(maps).toEqual([
      { containerID: 0, hostID: 100000, size: 1001 },
      { containerID: 1001, hostID: 1001, size: 1 },
      { containerID: 1002, hostID: 101001, size: 64535 },
    ]);
    expect(() => checkMaps('uid', maps)).not.toThrow();
    expect(toHost(maps, 0)).toBe(100000);
  });
  it('with no range maps only the user to itself', () => {
    expect(chooseMaps('keep-id', 1002, [])).toEqual([{ containerID: 1002, hostID: 1002, size: 1 }]);
  });
  it('when the range is smaller than the uid, the user sits above it', () => {
    expect(keepIdMaps(1001, [{ start: 100000, count: 10 }])).toEqual([
      { containerID: 0, hostID: 100000, size: 10 },
      { containerID: 1001, hostID: 1001, size: 1 },
    ]);
  });
});

describe('helpers', () => {
  it('needs newuidmap for anything but the caller alone', () => {
    expect(needsHelper([{ containerID: 0, hostID: 7, size: 1 }], 7)).toBe(false);
    expect(needsHelper([{ containerID: 7, hostID: 7, size: 1 }], 7)).toBe(false);
    expect(needsHelper(rootMaps(7, range), 7)).toBe(true);
  });
  it('formats the maps for newuidmap and /proc, and parses them back', () => {
    const maps = rootMaps(1001, range);
    expect(mapArgs(maps)).toEqual(['0', '1001', '1', '1', '100000', '65536']);
    expect(mapText(maps)).toBe('0 1001 1\n1 100000 65536\n');
    expect(parseMapText('         0       1001          1\n         1     100000      65536\n')).toEqual(maps);
  });
  it('parses --uidmap and refuses bad values and overlaps', () => {
    expect(parseMapFlag('--uidmap', '0:100000:10')).toEqual({ containerID: 0, hostID: 100000, size: 10 });
    expect(() => parseMapFlag('--uidmap', '0:1')).toThrow('invalid --uidmap 0:1: expected CONTAINER:HOST:SIZE');
    expect(() => parseMapFlag('--uidmap', '0:1:0')).toThrow();
    expect(() =>
      checkMaps('uid', [
        { containerID: 0, hostID: 1, size: 5 },
        { containerID: 4, hostID: 100, size: 1 },
      ]),
    ).toThrow('invalid uid map: 0:1:5 overlaps 4:100:1');
  });
  it('says which file to fix when a user is not mapped', () => {
    expect(() => requireMapped('uid', rootMaps(1, []), 1000, [])).toThrow(UserNsError);
    try {
      requireMapped('gid', rootMaps(1, [{ start: 10, count: 5 }]), 1000, [{ start: 10, count: 5 }]);
    } catch (error) {
      expect((error as UserNsError).code).toBe('SUBID_TOO_SMALL');
      expect((error as UserNsError).message).toBe(
        'cannot run as gid 1000: it is not mapped in the container (/etc/subgid gives 5 ids)',
      );
    }
  });
});
