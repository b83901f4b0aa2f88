// The specs that join a container: execSpec for a running one, joinCreatedSpec for one that is
// created but not started (its cgroup namespace does not exist yet; a time namespace is never joined).
import { describe, expect, test } from 'vitest';
import { execSpec, joinCreatedSpec } from '../../../src/engine/spec/index.js';
import type { Process, Spec } from '../../../src/runtime/spec.js';

const spec: Spec = {
  ociVersion: '1.2.0',
  linux: {
    namespaces: [
      { type: 'user' },
      { type: 'mount' },
      { type: 'network', path: '/run/netns/shared' },
      { type: 'cgroup' },
      { type: 'time' },
    ],
  },
};
const process: Process = { cwd: '/', args: ['true'], user: { uid: 0, gid: 0 } };

describe('joining a container', () => {
  test('execSpec joins every namespace of the process but time, by path, given paths kept', () => {
    expect(execSpec(spec, 42, process).linux?.namespaces).toEqual([
      { type: 'user', path: '/proc/42/ns/user' },
      { type: 'mount', path: '/proc/42/ns/mnt' },
      { type: 'network', path: '/run/netns/shared' },
      { type: 'cgroup', path: '/proc/42/ns/cgroup' },
    ]);
  });

  test('joinCreatedSpec leaves out the cgroup namespace and keeps the rest of execSpec', () => {
    const joined = joinCreatedSpec(spec, 42, process);
    expect(joined.linux?.namespaces?.map((ns) => ns.type)).toEqual(['user', 'mount', 'network']);
    expect(joined.process).toBe(process);
    expect(spec.linux?.namespaces).toHaveLength(5);
  });
});
