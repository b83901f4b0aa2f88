import { describe, expect, it } from 'vitest';
import { networkJoins, placementForTarget, type NetworkTarget } from '../../../src/engine/setup/network-join.js';
import { CLONE } from '../../../src/runtime/linux.js';

const target: NetworkTarget = {
  id: 'a',
  pid: 42,
  userns: '/proc/42/ns/user',
  netns: '/proc/42/ns/net',
  hosts: '/run/a/hosts',
  resolvConf: '/run/a/resolv.conf',
};

describe('--network container:ID', () => {
  it("joins a user namespace before the target's network: the holder's, else the target's", () => {
    expect(networkJoins(target, undefined)).toEqual([
      { type: CLONE.NEWUSER, path: '/proc/42/ns/user' },
      { type: CLONE.NEWNET, path: '/proc/42/ns/net' },
    ]);
    expect(networkJoins(target, { userns: '/proc/7/ns/user', mntns: '/proc/7/ns/mnt' })).toEqual([
      { type: CLONE.NEWUSER, path: '/proc/7/ns/user' },
      { type: CLONE.NEWNS, path: '/proc/7/ns/mnt' },
      { type: CLONE.NEWNET, path: '/proc/42/ns/net' },
    ]);
  });

  it("places the container in the target's user namespace (or the holder's) with its hosts and resolv.conf", () => {
    expect(placementForTarget(target, undefined)).toEqual({
      userns: '/proc/42/ns/user',
      etcFiles: { hosts: '/run/a/hosts', resolvConf: '/run/a/resolv.conf' },
    });
    expect(placementForTarget(target, '/proc/7/ns/user').userns).toBe('/proc/7/ns/user');
  });
});
