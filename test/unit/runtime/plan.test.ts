import { describe, expect, it } from 'vitest';
import { CLONE, MS } from '../../../src/runtime/linux.js';
import { planFromSpec, type FsStep } from '../../../src/runtime/plan.js';
import type { Spec } from '../../../src/runtime/spec.js';

const host = { isDirectory: (p: string) => !p.endsWith('.conf') };
const base = (over: Partial<Spec> = {}): Spec => ({
  ociVersion: '1.2.0',
  process: {
    user: { uid: 0, gid: 0 },
    args: ['sh'],
    cwd: '/',
    env: ['PATH=/bin'],
    capabilities: { bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: ['CAP_CHOWN'] },
    noNewPrivileges: true,
  },
  root: { path: '/r' },
  hostname: 'box',
  linux: {
    namespaces: [{ type: 'user' }, { type: 'mount' }, { type: 'pid' }, { type: 'uts' }, { type: 'network' }],
    uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
  },
  ...over,
});

describe('planFromSpec', () => {
  it('turns namespaces into clone flags and keeps the process as given', () => {
    const plan = planFromSpec(base(), host);
    expect(plan.cloneFlags).toBe(CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWNET);
    expect(plan).toMatchObject({
      propagation: MS.REC | MS.SLAVE,
      rootfs: '/r',
      hostname: 'box',
      loopback: true,
      args: ['sh'],
      env: ['PATH=/bin'],
      cwd: '/',
      noNewPrivileges: true,
      parentDeathSignal: 9,
    });
    expect(plan.caps).toEqual({ bounding: 0b100001n, effective: 1n, permitted: 0n, inheritable: 0n, ambient: 0n });
  });

  it('mounts in spec order, with device binds and /dev links right after /dev', () => {
    const spec = base({
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec'] },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755', 'size=64k'] },
        { destination: '/etc/resolv.conf', type: 'bind', source: '/run/x/resolv.conf', options: ['bind'] },
        { destination: '/data', source: '/home/u/data', options: ['rbind', 'ro'] },
      ],
    });
    spec.linux!.devices = [{ path: '/dev/null', type: 'c' }];
    spec.linux!.maskedPaths = ['/proc/kcore'];
    spec.linux!.readonlyPaths = ['/proc/sys'];
    const fs = planFromSpec(spec, host).fs;
    const summary = fs.map((s: FsStep) =>
      s.kind === 'mount'
        ? `mount ${s.target}`
        : s.kind === 'symlink' || s.kind === 'symlink-in-root'
          ? `link ${s.linkpath}`
          : `${s.kind} ${s.path}`,
    );
    const devices = ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm'].map((d) => `mount /r/dev/${d}`);
    expect(summary).toEqual([
      'mount /r/proc',
      'mount /r/dev',
      ...devices,
      'link /r/dev/fd',
      'link /r/dev/stdin',
      'link /r/dev/stdout',
      'link /r/dev/stderr',
      'link /r/dev/ptmx',
      'link /r/dev/core',
      'mount /r/etc/resolv.conf',
      'mount /r/data',
      'mask /r/proc/kcore',
      'readonly /r/proc/sys',
    ]);
    expect(fs[0]).toMatchObject({ fstype: 'proc', flags: MS.NOSUID | MS.NOEXEC, data: '', mkdir: true });
    expect(fs[1]).toMatchObject({ fstype: 'tmpfs', data: 'mode=755,size=64k' });
    expect(fs[3]).toMatchObject({ source: '/dev/zero', flags: MS.BIND, mkfile: true });
    expect(fs[8]).toMatchObject({ fstype: 'devpts', data: 'newinstance,ptmxmode=0666,mode=0620' });
    expect(fs[16]).toMatchObject({
      source: '/run/x/resolv.conf',
      flags: MS.BIND,
      mkfile: true,
      mkdir: false,
      remountRo: false,
    });
    // A read-only bind is a bind, then a remount: mount(2) ignores MS_RDONLY on the bind itself.
    expect(fs[17]).toMatchObject({ flags: MS.BIND | MS.REC, mkdir: true, remountRo: true });
  });

  it('binds the default devices into the rootfs /dev when the spec mounts no /dev', () => {
    const fs = planFromSpec(base({ mounts: [{ destination: '/proc', type: 'proc' }] }), host).fs;
    expect(fs.map((s) => (s.kind === 'mount' ? s.target : s.kind))).toEqual([
      '/r/proc',
      '/r/dev/null',
      '/r/dev/zero',
      '/r/dev/full',
      '/r/dev/random',
      '/r/dev/urandom',
      '/r/dev/tty',
    ]);
  });

  it('adds no default device that the spec already binds (rootless podman binds them as mounts)', () => {
    const fs = planFromSpec(
      base({
        mounts: [
          { destination: '/dev', type: 'tmpfs', source: 'tmpfs' },
          { destination: '/dev/null', type: 'bind', source: '/dev/null', options: ['rbind'] },
        ],
      }),
      host,
    ).fs;
    expect(fs.filter((s) => s.kind === 'mount' && s.target === '/r/dev/null')).toHaveLength(1);
    expect(fs.some((s) => s.kind === 'mount' && s.target === '/r/dev/zero')).toBe(true);
  });

  it('copies up a tmpfs with tmpcopyup, the option kept from mount(2)', () => {
    const fs = planFromSpec(
      base({
        mounts: [{ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'tmpcopyup', 'mode=755'] }],
      }),
      host,
    ).fs;
    expect(fs[0]).toMatchObject({ fstype: 'tmpfs', data: 'mode=755', copyUp: true });
  });

  it('sets the rootfs propagation after the pivot, keeping the tree a slave before it', () => {
    const plan = (p?: string) => planFromSpec(base({ linux: { ...base().linux, rootfsPropagation: p } }), host);
    expect(plan()).toMatchObject({ propagation: MS.REC | MS.SLAVE, rootPropagation: undefined });
    expect(plan('shared')).toMatchObject({ propagation: MS.REC | MS.SLAVE, rootPropagation: MS.SHARED });
    expect(plan('runbindable')).toMatchObject({
      propagation: MS.REC | MS.SLAVE,
      rootPropagation: MS.REC | MS.UNBINDABLE,
    });
    expect(plan('rprivate')).toMatchObject({ propagation: MS.REC | MS.PRIVATE, rootPropagation: MS.REC | MS.PRIVATE });
    expect(() => plan('sideways')).toThrow('linux.rootfsPropagation: unknown value sideways');
  });

  it('plans namespaced sysctls inside the root and refuses the host-wide ones', () => {
    const spec = base({
      linux: {
        ...base().linux,
        namespaces: [...base().linux!.namespaces!, { type: 'ipc' }],
        sysctl: { 'net.ipv4.ip_forward': '1', 'kernel/shmmax': '4096' },
      },
    });
    expect(planFromSpec(spec, host).fs).toContainEqual({
      kind: 'sysctl',
      key: 'net.ipv4.ip_forward',
      path: 'proc/sys/net/ipv4/ip_forward',
      value: '1',
    });
    expect(planFromSpec(spec, host).fs).toContainEqual({
      kind: 'sysctl',
      key: 'kernel/shmmax',
      path: 'proc/sys/kernel/shmmax',
      value: '4096',
    });
    spec.linux!.sysctl = { 'kernel.pid_max': '9' };
    expect(() => planFromSpec(spec, host)).toThrow('cannot set linux.sysctl kernel.pid_max: it is not namespaced');
    spec.linux!.sysctl = { 'net.core.somaxconn': '9' };
    spec.linux!.namespaces = [{ type: 'user' }, { type: 'mount' }];
    expect(() => planFromSpec(spec, host)).toThrow('it needs a network namespace');
  });

  it('makes ambient capabilities inheritable; asks for HOME only when env has none', () => {
    const spec = base();
    spec.process!.capabilities = { permitted: ['CAP_CHOWN'], ambient: ['CAP_CHOWN'] };
    expect(planFromSpec(spec, host).caps).toMatchObject({ inheritable: 1n, ambient: 1n });
    expect(planFromSpec(spec, host).defaultHome).toBe(true);
    spec.process!.env = ['HOME=/root'];
    expect(planFromSpec(spec, host).defaultHome).toBeUndefined();
  });

  it('binds the host /sys when the container has no network namespace, and drops an unmapped devpts gid', () => {
    const spec = base({
      mounts: [
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['newinstance', 'gid=5'] },
      ],
    });
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network');
    const fs = planFromSpec(spec, host).fs;
    expect(fs[0]).toMatchObject({
      source: '/sys',
      flags: MS.BIND | MS.REC | MS.NOSUID | MS.NOEXEC | MS.NODEV,
      remountRo: true,
    });
    expect(fs[1]).toMatchObject({ fstype: 'devpts', data: 'newinstance' });
    spec.linux!.gidMappings = [{ containerID: 0, hostID: 1, size: 10 }];
    expect(planFromSpec(spec, host).fs[1]).toMatchObject({ data: 'newinstance,gid=5' });
  });

  it('plans a program with no root: no pivot, no filesystem steps', () => {
    const plan = planFromSpec(base({ root: undefined, mounts: [{ destination: '/proc', type: 'proc' }] }), host);
    expect(plan.rootfs).toBeUndefined();
    expect(plan.fs).toEqual([]);
  });

  it('turns rlimits into numbers, unlimited into RLIM_INFINITY', () => {
    const spec = base();
    spec.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2 ** 64 }];
    expect(planFromSpec(spec, host).rlimits).toEqual([{ resource: 7, soft: 1024n, hard: 0xffffffffffffffffn }]);
  });

  it('refuses what it cannot do, naming it', () => {
    expect(() => planFromSpec(base({ root: { path: 'rootfs' } }), host)).toThrow('root path rootfs is not absolute');
    const join = base();
    join.linux!.namespaces = [{ type: 'network', path: '/proc/1/ns/net' }];
    // Joining by path is supported since hutch exec (joined, not cloned; no loopback setup of a foreign netns).
    expect(planFromSpec(join, host)).toMatchObject({
      joins: [{ type: 0x40000000, path: '/proc/1/ns/net' }],
      loopback: false,
    });
    join.linux!.namespaces = [{ type: 'time', path: '/proc/1/ns/time' }];
    expect(() => planFromSpec(join, host)).toThrow('joining the time namespace');
    const noArgs = base();
    noArgs.process!.args = [];
    expect(() => planFromSpec(noArgs, host)).toThrow('the spec has no process args');
    const rl = base();
    rl.process!.rlimits = [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }];
    expect(() => planFromSpec(rl, host)).toThrow('unknown rlimit RLIMIT_BOGUS');
  });
});

describe('withoutUserNamespace', () => {
  it('drops the user namespace and the maps, keeping the rest', async () => {
    const { withoutUserNamespace } = await import('../../../src/engine/spec/container-spec.js');
    const inner = withoutUserNamespace(base());
    expect(inner.linux!.namespaces!.map((n) => n.type)).toEqual(['mount', 'pid', 'uts', 'network']);
    expect(inner.linux!.uidMappings).toBeUndefined();
    expect(planFromSpec(inner, host).cloneFlags & CLONE.NEWUSER).toBe(0);
  });
});
