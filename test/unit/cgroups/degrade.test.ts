import { describe, expect, it } from 'vitest';
import { degrade, degradeLine, requiredError } from '../../../src/cgroups/degrade.js';
import { resourcesToWrites } from '../../../src/cgroups/resources.js';

const writes = resourcesToWrites({
  memory: { limit: 52428800, swap: 104857600 },
  cpu: { quota: 20000, period: 100000, cpus: '0' },
});

describe('honest degradation', () => {
  it('names the flags and the administrator fix in one line', () => {
    const cpuset = writes.filter((w) => w.controller === 'cpuset');
    expect(degradeLine(cpuset, { kind: 'not-delegated', controllers: ['cpuset'] })).toMatchInlineSnapshot(
      `"not enforced: --cpuset-cpus: the cpuset controller is not delegated to your user; an administrator delegates them with: mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload"`,
    );
    expect(degradeLine(writes, { kind: 'layout', layout: 'hybrid' })).toMatch(
      /^not enforced: --memory, --cpus, --cpuset-cpus: this host runs cgroup v1 \(hybrid\)/,
    );
    expect(degradeLine([], { kind: 'no-cgroup', detail: 'no user manager' })).toMatch(
      /^the container gets no cgroup of its own .*: no user manager; log in/,
    );
    expect(degradeLine(writes.slice(0, 2), { kind: 'missing-file', files: ['memory.swap.max'] })).toMatch(
      /the kernel offers no memory.swap.max; .*swapaccount=1/,
    );
    expect(degradeLine(writes, { kind: 'not-delegated', controllers: ['cpu', 'memory'] })).not.toContain('\n');
    expect(degradeLine(cpuset, { kind: 'not-delegated', controllers: ['cpuset'], subtree: '/job42' })).toBe(
      "not enforced: --cpuset-cpus: the cpuset controller is not delegated to your user; whoever delegated /job42 (e.g. Slurm's cgroup.conf) must enable them in its cgroup.subtree_control",
    );
  });

  it('warns, or throws CGROUP_REQUIRED with the fix as hint', () => {
    const lines: string[] = [];
    degrade(writes, { kind: 'layout', layout: 'legacy' }, false, (l) => lines.push(l));
    expect(lines).toHaveLength(1);
    expect(() => degrade(writes, { kind: 'layout', layout: 'legacy' }, true, () => undefined)).toThrow(
      requiredError(writes, { kind: 'layout', layout: 'legacy' }).message,
    );
    expect(requiredError([], { kind: 'layout', layout: 'none' })).toMatchObject({
      code: 'CGROUP_REQUIRED',
      message: 'cannot give the container a cgroup (--cgroups=required): this host has no cgroup filesystem mounted',
    });
  });
});
