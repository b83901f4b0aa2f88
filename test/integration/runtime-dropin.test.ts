// hutch runtime as engines drive it (issue 18): config.json bundles like podman's and containerd's,
// checked for what the runtime-spec and runc do: --version, default devices, ociVersion,
// rootfsPropagation, tmpcopyup, sysctls, oomScoreAdj, labels, the executable checked at create,
// HOME, real-time signals, ambient capabilities and update.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { hutch, REPO, type Sandbox } from '../helpers/hutch-cli.js';
import { useBundleSandbox } from '../helpers/frames.js';

let box: Sandbox;
let bundle: string;
const rt = (...args: string[]) => hutch(['runtime', '--root', join(box.dir, 'rt'), ...args]);
const rtBg = (...args: string[]) =>
  hutch(['runtime', '--root', join(box.dir, 'rt'), ...args], { stdout: 'ignore', stderr: 'ignore' });
const run = (...args: string[]) => rt('run', '--bundle', bundle, ...args, 'd1');

/** A config.json as podman writes one: the user mapped to root, /dev a tmpfs, no linux.devices. */
function config(args: string[], change: (c: Record<string, any>) => void = () => undefined): void {
  const c: Record<string, any> = {
    ociVersion: '1.0.2-dev',
    process: { user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin:/usr/bin'], cwd: '/' },
    root: { path: 'rootfs' },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
    ],
    linux: {
      namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'ipc' }, { type: 'network' }],
      uidMappings: [{ containerID: 0, hostID: userInfo().uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: userInfo().gid, size: 1 }],
    },
  };
  change(c);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(c));
}

useBundleSandbox((b, dir) => ((box = b), (bundle = dir)));

describe('the command line engines identify a runtime by', () => {
  it('--version prints three lines as runc; an unknown global flag exits 1 as runc', async () => {
    const version = await execa(join(REPO, 'bin', 'hutch-runtime'), ['--version'], { reject: false });
    expect(version.exitCode).toBe(0);
    expect(version.stdout).toMatch(/^hutch-runtime version \S+\ncommit: \S+\nspec: 1\.2\.0$/);
    const bad = await execa(join(REPO, 'bin', 'hutch-runtime'), ['--nosuch', 'list'], { reject: false });
    expect(bad.exitCode).toBe((await execa('/usr/sbin/runc', ['--nosuch', 'list'], { reject: false })).exitCode);
    expect(bad.stderr).toContain('flag provided but not defined: --nosuch');
  });
});

describe('the runtime-spec MUSTs', () => {
  it('gives the default devices, /dev/pts, /dev/shm and the std links when linux.devices lists none', async () => {
    config([
      'sh',
      '-c',
      'echo x > /dev/null && head -c 3 /dev/zero | wc -c && head -c 1 /dev/urandom >/dev/null && for d in null zero full random urandom tty; do test -c /dev/$d || echo no $d; done; test -d /dev/pts -a -d /dev/shm -a -L /dev/fd -a -L /dev/stdout -a -e /dev/ptmx && echo links',
    ]);
    const r = await run();
    expect([r.stdout, r.stderr, r.exitCode]).toEqual(['3\nlinks', '', 0]);
    // No /dev mount at all: the devices are bound into the rootfs's own /dev, as runc makes them there.
    config(
      ['sh', '-c', 'echo x > /dev/null && test -c /dev/zero && echo ok'],
      (c) => (c.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]),
    );
    expect((await run()).stdout).toBe('ok');
  });

  it('refuses an ociVersion it does not implement, naming the field', async () => {
    config(['true'], (c) => (c.ociVersion = 'invalid'));
    const r = await rt('create', '--bundle', bundle, 'v1');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('ociVersion: unsupported version "invalid"');
    expect(existsSync(join(box.dir, 'rt', 'v1'))).toBe(false);
  });

  it('applies rootfsPropagation to the new root after the pivot (shared, unbindable)', async () => {
    const rootLine = 'grep -E "^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / " /proc/self/mountinfo';
    config(['sh', '-c', rootLine], (c) => (c.linux.rootfsPropagation = 'shared'));
    const shared = await run();
    expect([shared.exitCode, shared.stderr]).toEqual([0, '']);
    expect(shared.stdout).toMatch(/ shared:\d+/);
    config(['sh', '-c', rootLine], (c) => (c.linux.rootfsPropagation = 'runbindable'));
    expect((await run()).stdout).toMatch(/ unbindable/);
  });
});

describe('settings engines write', () => {
  it('tmpcopyup fills the new tmpfs with what the image had there, leaving the image alone', async () => {
    config(['sh', '-c', 'cat /etc/passwd | head -1; echo new > /etc/added; ls -ld /etc | cut -c1-10'], (c) =>
      c.mounts.push({
        destination: '/etc',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['rw', 'rprivate', 'nosuid', 'nodev', 'tmpcopyup'],
      }),
    );
    const r = await run();
    expect([r.stdout, r.stderr, r.exitCode]).toEqual(['root:x:0:0:root:/root:/bin/sh\ndrwxr-xr-x', '', 0]);
    expect(existsSync(join(bundle, 'rootfs', 'etc', 'added'))).toBe(false);
  });

  it('writes namespaced sysctls in the container and refuses the host-wide ones', async () => {
    config(
      ['sh', '-c', 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni'],
      (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1000' }),
    );
    const r = await run();
    expect([r.stdout, r.stderr, r.exitCode]).toEqual(['1\n1000', '', 0]);
    config(['true'], (c) => (c.linux.sysctl = { 'kernel.pid_max': '4096' }));
    const refused = await run();
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('cannot set linux.sysctl kernel.pid_max: it is not namespaced');
  });

  it('raises oom_score_adj, fails to lower it as runc does, and names the labels it does not apply', async () => {
    const current = Number(readFileSync('/proc/self/oom_score_adj', 'utf8'));
    config(['cat', '/proc/self/oom_score_adj'], (c) =>
      Object.assign(c.process, {
        oomScoreAdj: current + 100,
        apparmorProfile: 'containers-default',
        selinuxLabel: 'system_u:system_r:container_t:s0',
      }),
    );
    const raised = await run();
    expect([raised.stdout, raised.exitCode]).toEqual([String(current + 100), 0]);
    expect(raised.stderr).toContain('hutch: warning: process.apparmorProfile containers-default is not applied');
    expect(raised.stderr).toContain('hutch: warning: process.selinuxLabel');
    config(['true'], (c) => (c.process.oomScoreAdj = -1000));
    const lowered = await rt('create', '--bundle', bundle, 'o1');
    expect(lowered.exitCode).toBe(125);
    expect(lowered.stderr).toContain('cannot set process.oomScoreAdj to -1000');
  });

  it('makes ambient capabilities inheritable (buildah sets ambient without inheritable)', async () => {
    const caps = ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'];
    config(
      ['sh', '-c', 'grep -E "^Cap(Inh|Amb)" /proc/self/status'],
      (c) => (c.process.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: caps }),
    );
    const r = await run();
    expect([r.stdout, r.stderr, r.exitCode]).toEqual(['CapInh:\t0000000000000401\nCapAmb:\t0000000000000401', '', 0]);
  });
});

describe('the process', () => {
  it('a missing executable fails create (runc\'s "no such file or directory"), leaving nothing', async () => {
    config(['/no/such']);
    const abs = await rt('create', '--bundle', bundle, 'm1');
    expect(abs.exitCode).not.toBe(0);
    expect(abs.stderr).toContain('no such file or directory');
    config(['nosuch']);
    expect((await rt('create', '--bundle', bundle, 'm2')).stderr).toContain(
      'cannot run nosuch: no such file or directory',
    );
    expect(existsSync(join(box.dir, 'rt', 'm1'))).toBe(false);
  });

  it('HOME comes from the container\'s passwd, "/" for a user it does not list', async () => {
    config(['sh', '-c', 'echo $HOME']);
    expect((await run()).stdout).toBe('/root');
    config(['sh', '-c', 'echo $HOME'], (c) => (c.process.env = ['PATH=/bin', 'HOME=/given']));
    expect((await run()).stdout).toBe('/given');
    writeFileSync(join(bundle, 'rootfs', 'etc', 'passwd'), 'other:x:7:7::/home/other:/bin/sh\n');
    config(['sh', '-c', 'echo $HOME']);
    expect((await run()).stdout).toBe('/');
  });

  it('kill takes the real-time signals (64, RTMIN+2) as runc', async () => {
    config([
      'sh',
      '-c',
      'trap "echo 64 >> /got" 64; trap "echo 36 >> /got" 36; echo > /ready; while :; do sleep 0.05; done',
    ]);
    await rtBg('create', '--bundle', bundle, 'k1');
    await rt('start', 'k1');
    const got = join(bundle, 'rootfs', 'got');
    for (let i = 0; i < 100 && !existsSync(join(bundle, 'rootfs', 'ready')); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await rt('kill', 'k1', '64')).exitCode).toBe(0);
    for (let i = 0; i < 100 && !existsSync(got); i++) await new Promise((r) => setTimeout(r, 50));
    expect((await rt('kill', 'k1', 'RTMIN+2')).exitCode).toBe(0);
    for (let i = 0; i < 100 && readFileSync(got, 'utf8') !== '64\n36\n'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(got, 'utf8')).toBe('64\n36\n');
    expect((await rt('kill', 'k1', '65')).stderr).toContain('invalid signal 65');
    await rt('delete', '--force', 'k1');
  });

  it('update reads -r resources.json and says why limits cannot change without a cgroup', async () => {
    config(['sleep', '1000']);
    await rtBg('create', '--bundle', bundle, 'u1');
    writeFileSync(join(box.dir, 'res.json'), JSON.stringify({ memory: { limit: 52428800 }, pids: { limit: 30 } }));
    const r = await rt('update', '-r', join(box.dir, 'res.json'), 'u1');
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('cannot update container u1: it has no cgroup of its own');
    writeFileSync(join(box.dir, 'res.json'), '[1]');
    expect((await rt('update', '-r', join(box.dir, 'res.json'), 'u1')).stderr).toContain('cannot read the resources');
    await rt('delete', '--force', 'u1');
  });
});
