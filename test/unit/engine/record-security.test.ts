// containers.conf's seccomp_profile under the flags (--security-opt seccomp=, --privileged win),
// and the security a record made before seccomp gets when it restarts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyConfigDefaults } from '../../../src/cli/options/config-defaults.js';
import type { ContainersConf } from '../../../src/config/containers-conf.js';
import type { RunCommandRequest } from '../../../src/engine/container/foreground.js';
import { blueprintSecurity } from '../../../src/engine/spec/blueprint.js';

const CAPS = ['CAP_CHOWN', 'CAP_KILL'];

describe('seccomp_profile of containers.conf', () => {
  it('is the profile unless --security-opt seccomp= or --privileged says otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hutch-seccomp-conf-'));
    try {
      const file = join(dir, 'profile.json');
      writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }));
      const fromConf = blueprintSecurity({ defaultSeccomp: file }, CAPS).seccomp;
      expect(fromConf?.defaultAction).toBe('SCMP_ACT_ALLOW');
      expect(blueprintSecurity({ defaultSeccomp: 'unconfined' }, CAPS).seccomp).toBeUndefined();
      expect(blueprintSecurity({ defaultSeccomp: file, privileged: true }, CAPS).seccomp).toBeUndefined();
      const flagged = blueprintSecurity({ defaultSeccomp: 'unconfined', securityOpts: [`seccomp=${file}`] }, CAPS);
      expect(flagged.seccomp?.defaultAction).toBe('SCMP_ACT_ALLOW');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reaches the request through applyConfigDefaults', () => {
    const conf = {
      seccompProfile: '/etc/p.json',
      env: [],
      defaultUlimits: [],
      volumes: [],
    } as unknown as ContainersConf;
    const req = { ulimits: [], volumes: [] } as unknown as RunCommandRequest;
    expect(applyConfigDefaults(req, conf, undefined).defaultSeccomp).toBe('/etc/p.json');
  });
});

describe('a record made before seccomp', () => {
  it('gets the default filter (errno rules on top of an allow-list), as a new container does', () => {
    const made = blueprintSecurity({}, CAPS);
    expect(made.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(made.noNewPrivileges).toBe(false);
  });
});
