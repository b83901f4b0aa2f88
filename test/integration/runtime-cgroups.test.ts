// hutch runtime create with config.json's linux.resources and linux.cgroupsPath, on this host
// where no cgroup can be had (hybrid cgroups, no user manager): the one-line warning naming what
// is not enforced, --systemd-cgroup's cgroupsPath form checked, and nothing left behind.
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fdStdio, hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { useBundleSandbox } from '../helpers/frames.js';

let box: Sandbox;
let bundle: string;
// A created container inherits the caller's stdio (runc's model): its stderr goes to a file.
// (a file descriptor, not execa's { file }, which it pipes through a stream and waits on).
async function rt(args: string[]): Promise<{ exitCode?: number }> {
  const fd = openSync(join(box.dir, 'err'), 'a');
  try {
    return await hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { stdout: 'ignore', stderr: fdStdio(fd) });
  } finally {
    closeSync(fd);
  }
}
const errors = () => readFileSync(join(box.dir, 'err'), 'utf8');

function config(linux: Record<string, unknown>): void {
  writeFileSync(
    join(bundle, 'config.json'),
    JSON.stringify({
      ociVersion: '1.2.0',
      process: { user: { uid: 0, gid: 0 }, args: ['sleep', '100'], env: ['PATH=/bin'], cwd: '/' },
      root: { path: 'rootfs' },
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
      linux: {
        namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }],
        uidMappings: [{ containerID: 0, hostID: userInfo().uid, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: userInfo().gid, size: 1 }],
        ...linux,
      },
    }),
  );
}

useBundleSandbox((b, dir) => ((box = b), (bundle = dir)));

describe('runtime create with linux.resources', () => {
  it('warns once naming the limits not enforced, creates the container, and delete removes it', async () => {
    config({
      resources: { memory: { limit: 52428800 }, pids: { limit: 16 }, devices: [{ allow: false, access: 'rwm' }] },
      cgroupsPath: 'user.slice:hutch:c1',
    });
    const create = await rt(['--systemd-cgroup', 'create', '--bundle', bundle, 'c1']);
    expect(create.exitCode).toBe(0);
    expect(errors()).toMatch(/^hutch: warning: not enforced: --memory, --pids-limit: .+\n$/);
    expect(
      JSON.parse(String((await hutch(['runtime', '--root', join(box.dir, 'rt'), 'state', 'c1'])).stdout)).status,
    ).toBe('created');
    expect((await rt(['delete', '--force', 'c1'])).exitCode).toBe(0);
  });

  it('refuses a systemd cgroupsPath not of the form slice:prefix:name', async () => {
    config({ cgroupsPath: '/not/systemd' });
    const create = await rt(['--systemd-cgroup', 'create', '--bundle', bundle, 'c2']);
    expect(create.exitCode).toBe(125);
    expect(errors()).toMatch(/cgroupsPath/);
    expect(existsSync(join(box.dir, 'rt', 'c2'))).toBe(false);
  });
});
