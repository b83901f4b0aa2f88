// Confinement under the OCI face (issue 13): `hutch runtime exec` helpers cannot be overwritten
// from inside the container (CVE-2019-5736 pattern) nor show the caller's environment, and
// config.json's linux.seccomp is in force.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNothingReached, helperDigest, SECRET_ENV, WATCHER } from '../helpers/exe-watcher.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { writeBundleConfig } from '../helpers/bundle-config.js';
import { useBundleSandbox } from '../helpers/frames.js';
import { installProbe, verdicts } from '../helpers/syscall-probe.js';

let box: Sandbox;
let bundle: string;
const rt = (...args: string[]) => hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { env: SECRET_ENV });
const rtBg = (...args: string[]) =>
  hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { stdout: 'ignore', stderr: 'ignore', env: SECRET_ENV });

/** A config.json as an engine would write it, changed by `change`. */
const config = (args: string[], change?: (c: Record<string, any>) => void): void =>
  writeBundleConfig(bundle, args, change);

useBundleSandbox((b, dir) => ((box = b), (bundle = dir)));

describe('the helper binary (CVE-2019-5736 pattern)', () => {
  it('helper-overwrite: runtime exec helpers seen from inside the container cannot be written and show no caller env', async () => {
    const before = helperDigest();
    config(['sh', '-c', WATCHER]);
    expect((await rtBg('run', '--detach', '--bundle', bundle, 'w')).exitCode).toBe(0);
    for (let i = 0; i < 15; i++) expect((await rt('exec', 'w', 'true')).exitCode).toBe(0);
    await rt('exec', 'w', 'touch', '/tmp/stop');
    while ((await rt('exec', 'w', 'cat', '/tmp/stopped')).exitCode !== 0);
    expectNothingReached(String((await rt('exec', 'w', 'cat', '/tmp/seen')).stdout), before);
    expect((await rt('delete', '-f', 'w')).exitCode).toBe(0);
  });
});

describe('linux.seccomp', () => {
  const profile = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x400000, op: 'SCMP_CMP_EQ' }] },
    ],
  };
  const caps = ['CAP_CHOWN', 'CAP_KILL']; // not CAP_SYS_ADMIN: without no_new_privs the helper installs the filter before dropping it

  it("seccomp-dropped: config.json's filter is in force in run and exec, without no_new_privs", async () => {
    const probe = installProbe(join(bundle, 'rootfs'));
    config(
      [
        'sh',
        '-c',
        `grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; ${probe} getpid personality-exec personality-query`,
      ],
      (c) => {
        c.linux.seccomp = profile;
        c.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
      },
    );
    const r = await rt('run', '--bundle', bundle, 's1');
    expect(r.stderr).toBe('');
    const [nnp, seccomp, ...rest] = String(r.stdout).split('\n');
    expect([nnp, seccomp]).toEqual(['NoNewPrivs:\t0', 'Seccomp:\t2']);
    expect(verdicts(rest.join('\n'))).toEqual({ getpid: 13, 'personality-exec': 1, 'personality-query': 0 });
    config(['sleep', '1000'], (c) => (c.linux.seccomp = profile));
    expect((await rtBg('run', '--detach', '--bundle', bundle, 's2')).exitCode).toBe(0);
    expect(verdicts(String((await rt('exec', 's2', probe, 'getpid')).stdout))).toEqual({ getpid: 13 });
    expect((await rt('delete', '-f', 's2')).exitCode).toBe(0);
  });

  it('a profile hutch cannot install fails create with its reason; features says seccomp is enabled', async () => {
    config(['true'], (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY' }));
    const r = await rt('create', '--bundle', bundle, 's3');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('action SCMP_ACT_NOTIFY is not supported');
    const features = JSON.parse(String((await rt('features')).stdout));
    expect(features.linux.seccomp).toMatchObject({ enabled: true });
    expect(features.linux.seccomp.operators).toContain('SCMP_CMP_MASKED_EQ');
  });
});
