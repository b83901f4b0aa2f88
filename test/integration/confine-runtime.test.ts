// Confinement under the OCI face (issue 13): `hutch runtime exec` helpers cannot be overwritten
// from inside the container (CVE-2019-5736 pattern) nor show the caller's environment.
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectNothingReached, helperDigest, SECRET_ENV, WATCHER } from '../helpers/exe-watcher.js';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useBundleSandbox } from '../helpers/frames.js';

let box: Sandbox;
let bundle: string;
const rt = (...args: string[]) => hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { env: SECRET_ENV });
const rtBg = (...args: string[]) => hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { stdout: 'ignore', stderr: 'ignore', env: SECRET_ENV });

/** A config.json as an engine writes it, changed by `change`. */
export function config(args: string[], change: (c: Record<string, any>) => void = () => undefined): void {
  const c: Record<string, any> = {
    ociVersion: '1.2.0',
    process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] }],
    linux: {
      namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'ipc' }],
      uidMappings: [{ containerID: 0, hostID: userInfo().uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: userInfo().gid, size: 1 }],
    },
  };
  change(c);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(c));
}

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
