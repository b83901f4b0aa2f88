import { describe, expect, it } from 'vitest';
import { networkJoins, patchForTarget, type NetworkTarget } from '../../../src/engine/setup/network-join.js';
import { CLONE } from '../../../src/runtime/linux.js';
import type { Spec } from '../../../src/runtime/spec.js';

const target: NetworkTarget = { id: 'a', pid: 42, userns: '/proc/42/ns/user', netns: '/proc/42/ns/net', hosts: '/run/a/hosts', resolvConf: '/run/a/resolv.conf' };

describe('--network container:ID', () => {
  it('joins a user namespace before the target\'s network: the holder\'s, else the target\'s', () => {
    expect(networkJoins(target, undefined)).toEqual([{ type: CLONE.NEWUSER, path: '/proc/42/ns/user' }, { type: CLONE.NEWNET, path: '/proc/42/ns/net' }]);
    expect(networkJoins(target, { userns: '/proc/7/ns/user', mntns: '/proc/7/ns/mnt' })).toEqual([
      { type: CLONE.NEWUSER, path: '/proc/7/ns/user' }, { type: CLONE.NEWNS, path: '/proc/7/ns/mnt' }, { type: CLONE.NEWNET, path: '/proc/42/ns/net' },
    ]);
  });

  it('binds the target\'s hosts and resolv.conf and joins its user namespace', () => {
    const spec: Spec = {
      ociVersion: '1.2.0',
      mounts: [{ destination: '/etc/hosts', type: 'bind', source: '/run/b/hosts' }, { destination: '/etc/resolv.conf', type: 'bind', source: '/run/b/resolv.conf' }, { destination: '/etc/hostname', type: 'bind', source: '/run/b/hostname' }],
      linux: { namespaces: [{ type: 'user' }, { type: 'mount' }] },
    };
    patchForTarget(spec, target, undefined);
    expect(spec.mounts!.map((m) => m.source)).toEqual(['/run/a/hosts', '/run/a/resolv.conf', '/run/b/hostname']);
    expect(spec.linux!.namespaces![0]).toEqual({ type: 'user', path: '/proc/42/ns/user' });
  });
});
