// --pid/--ipc/--uts host, --shm-size, keep-id's user and home, --env-host's blocklist and the
// --hpc profile: from the request to the spec and the helper's plan, without running anything.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { applyHpcProfile } from '../../../src/cli/options/hpc-profile.js';
import type { RunCommandRequest } from '../../../src/engine/container/foreground.js';
import {
  buildRunSpec,
  defaultRunRequest,
  hostEnvironment,
  withHostUser,
  type RunRequest,
  type SpecContext,
} from '../../../src/engine/spec/index.js';
import { planFromSpec } from '../../../src/runtime/plan.js';
import { rootMaps } from '../../../src/userns/idmap.js';

const ctx: SpecContext = {
  id: '0123456789abcdef',
  uidMappings: rootMaps(1000, []),
  gidMappings: rootMaps(1000, []),
  subuid: [],
  subgid: [],
  setgroupsAllowed: false,
  etcFiles: { hosts: '/run/h', hostname: '/run/n', resolvConf: '/run/r' },
  userDb: { passwd: 'root:x:0:0::/root:/bin/sh\n', group: 'root:x:0:\n' },
};
const req = (over: Partial<RunRequest> = {}): RunRequest =>
  defaultRunRequest({ rootfs: '/r', command: ['sh'], ...over });
const host = (dirs: string[]) => ({ isDirectory: (p: string) => dirs.includes(p) });

describe('the host namespaces, one flag each', () => {
  it('leaves out the shared namespaces; the plan binds the host /proc and /dev/mqueue and sets no hostname', () => {
    const spec = buildRunSpec(req({ pid: 'host', ipc: 'host', uts: 'host' }), ctx);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['user', 'mount', 'cgroup', 'network']);
    expect(spec.hostname).toBe(hostname());
    expect(spec.mounts!.find((m) => m.destination === '/dev/shm')).toMatchObject({ type: 'bind', source: '/dev/shm' });
    const plan = planFromSpec(spec, host(['/dev/mqueue', '/proc', '/dev/shm']));
    expect(plan.hostname).toBeUndefined();
    const mounts = plan.fs.filter((s) => s.kind === 'mount');
    expect(mounts.find((s) => s.target === '/r/proc')).toMatchObject({ source: '/proc', fstype: '' });
    expect(mounts.find((s) => s.target === '/r/dev/mqueue')).toMatchObject({ source: '/dev/mqueue', fstype: '' });
    // A host without /dev/mqueue: the container has none either.
    const bare = planFromSpec(spec, host(['/proc', '/dev/shm'])).fs;
    expect(bare.some((s) => s.kind === 'mount' && s.target === '/r/dev/mqueue')).toBe(false);
  });

  it('keeps its own namespaces by default and mounts proc and mqueue fresh', () => {
    const spec = buildRunSpec(req({ pid: 'private', ipc: '' }), ctx);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual([
      'user',
      'mount',
      'pid',
      'uts',
      'ipc',
      'cgroup',
      'network',
    ]);
    const fs = planFromSpec(spec, host([])).fs;
    expect(fs.find((s) => s.kind === 'mount' && s.target === '/r/proc')).toMatchObject({ fstype: 'proc' });
  });

  it('sizes /dev/shm with --shm-size and refuses what cannot be', () => {
    const shm = (over: Partial<RunRequest>) =>
      buildRunSpec(req(over), ctx).mounts!.find((m) => m.destination === '/dev/shm')!.options;
    expect(shm({})).toContain('size=65536k');
    expect(shm({ shmSize: '1g' })).toContain('size=1048576k');
    expect(() => shm({ shmSize: 'big' })).toThrow('invalid --shm-size value "big"');
    expect(() => shm({ shmSize: '0' })).toThrow('invalid --shm-size 0');
    expect(() => shm({ shmSize: '1m', ipc: 'host' })).toThrow('cannot set --shm-size with --ipc host');
    expect(() => buildRunSpec(req({ uts: 'host', hostname: 'x' }), ctx)).toThrow(
      'cannot set --hostname with --uts host',
    );
    expect(() => buildRunSpec(req({ pid: 'container:abc' }), ctx)).toThrow('invalid --pid container:abc');
  });
});

describe('keep-id', () => {
  it('runs as the user with their home, and adds their line to passwd and group once', () => {
    const keepId = { uid: 1000, gid: 1000, name: 'me', home: '/home/me' };
    const maps = [{ containerID: 1000, hostID: 1000, size: 1 }];
    const spec = buildRunSpec(req(), { ...ctx, keepId, uidMappings: maps, gidMappings: maps });
    expect(spec.process!.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(spec.process!.env).toContain('HOME=/home/me');
    const db = withHostUser(ctx.userDb!, { ...keepId, group: 'staff' });
    expect(db).toEqual({
      passwd: 'root:x:0:0::/root:/bin/sh\nme:*:1000:1000:me:/home/me:/bin/sh\n',
      group: 'root:x:0:\nstaff:x:1000:me\n',
    });
    expect(withHostUser(db, keepId)).toEqual(db);
    expect(withHostUser({ passwd: 'root:x:0:0::/root:/bin/sh', group: '' }, { ...keepId, name: 'a:b' })).toEqual({
      passwd: 'root:x:0:0::/root:/bin/sh',
      group: '',
    });
  });

  it('binds the generated passwd and group when there are some', () => {
    const spec = buildRunSpec(req(), { ...ctx, etcFiles: { ...ctx.etcFiles, passwd: '/run/p', group: '/run/g' } });
    expect(
      spec.mounts!.filter((m) => m.source === '/run/p' || m.source === '/run/g').map((m) => m.destination),
    ).toEqual(['/etc/passwd', '/etc/group']);
  });
});

describe("the caller's environment", () => {
  const env = {
    USER: 'me',
    PATH: '/opt/bin',
    HOME: '/home/me',
    LD_LIBRARY_PATH: '/opt/lib',
    HUTCH_DEBUG: '1',
    BASH_FUNC_f: '() { :; }',
    SSH_AUTH_SOCK: '/run/s',
    SLURM_JOB_ID: '7',
    PMIX_RANK: '0',
    OMPI_COMM_WORLD_RANK: '0',
    LANG: 'C.UTF-8',
  };

  it('passes everything but the blocklist, or only the job variables', () => {
    expect(hostEnvironment(env, 'all')).toEqual([
      'USER=me',
      'SLURM_JOB_ID=7',
      'PMIX_RANK=0',
      'OMPI_COMM_WORLD_RANK=0',
      'LANG=C.UTF-8',
    ]);
    expect(hostEnvironment(env, 'job')).toEqual(['SLURM_JOB_ID=7', 'PMIX_RANK=0', 'OMPI_COMM_WORLD_RANK=0']);
  });

  it('lets the image and the flags override it (it comes first)', () => {
    const spec = buildRunSpec(req({ defaultEnv: ['LANG=C', 'A=host'], env: ['A=flag'] }), ctx);
    expect(spec.process!.env).toEqual(expect.arrayContaining(['LANG=C', 'A=flag']));
  });
});

describe('--hpc', () => {
  const run = (over: Partial<RunCommandRequest> = {}): RunCommandRequest => ({
    ...req(),
    userns: 'auto',
    uidmap: [],
    gidmap: [],
    interactive: false,
    init: false,
    setup: { publish: [], publishAll: false, dns: [], dnsSearch: [], addHost: [] },
    ...over,
  });
  const caller = (cwd: string, home = '/home/me') => ({
    cwd,
    home,
    env: { SLURM_NTASKS: '4', FOO: 'bar', PATH: '/x' },
    exists: (p: string) => p !== '/nonexistent',
  });
  const choices = { explicitUserns: false, cleanenv: false };

  it("binds home, /tmp and the cwd, shares the host's namespaces, keeps the uid, passes the environment", () => {
    const r = applyHpcProfile(run({ volumes: ['/data:/data'] }), caller('/scratch/job'), choices);
    expect(r).toMatchObject({
      userns: 'keep-id',
      volumes: ['/home/me:/home/me', '/tmp:/tmp', '/scratch/job:/scratch/job', '/data:/data'],
      workdir: '/scratch/job',
      pid: 'host',
      ipc: 'host',
      uts: 'host',
      defaultEnv: ['SLURM_NTASKS=4', 'FOO=bar'],
      setup: { networkMode: 'host', cgroups: 'disabled' },
    });
  });

  it('binds nothing twice, nothing over a system folder, no missing home; explicit flags win', () => {
    expect(applyHpcProfile(run(), caller('/home/me/job'), choices).volumes).toEqual(['/home/me:/home/me', '/tmp:/tmp']);
    expect(applyHpcProfile(run(), caller('/usr/bin', '/nonexistent'), choices).volumes).toEqual(['/tmp:/tmp']);
    const r = applyHpcProfile(
      run({ workdir: '/w', pid: 'private', setup: { ...run().setup!, networkMode: 'none', memory: '1g' } }),
      caller('/'),
      { explicitUserns: true, cleanenv: true },
    );
    expect(r).toMatchObject({ userns: 'auto', workdir: '/w', pid: 'private', defaultEnv: ['SLURM_NTASKS=4'] });
    expect(r.setup).toMatchObject({ networkMode: 'none' });
    expect(r.setup!.cgroups).toBeUndefined();
  });
});

describe('--device', () => {
  it('binds the node without nodev; refuses permissions it cannot enforce and what is not a device', () => {
    const mounts = buildRunSpec(req({ devices: ['/dev/null', '/dev/zero:/dev/z:rwm'] }), ctx).mounts!;
    expect(mounts.slice(-2)).toEqual([
      { destination: '/dev/null', type: 'bind', source: '/dev/null', options: ['bind', 'nosuid', 'noexec'] },
      { destination: '/dev/z', type: 'bind', source: '/dev/zero', options: ['bind', 'nosuid', 'noexec'] },
    ]);
    expect(() => buildRunSpec(req({ devices: ['/dev/zero:r'] }), ctx)).toThrow(
      'cannot restrict --device /dev/zero to r',
    );
    expect(() => buildRunSpec(req({ devices: ['dev/null'] }), ctx)).toThrow('invalid --device dev/null');
    expect(() => buildRunSpec(req({ devices: ['/etc/hostname'] }), ctx)).toThrow('not a device node');
  });
});
