import { describe, expect, it } from 'vitest';
import {
  blueprintFromRequest,
  buildRunSpec,
  defaultRunRequest,
  DEFAULT_PATH,
  specFromBlueprint,
  type RunRequest,
  type SpecContext,
} from '../../../src/engine/spec/index.js';
import { planFromSpec } from '../../../src/runtime/plan.js';
import { DEFAULT_CAPABILITIES } from '../../../src/runtime/linux.js';
import { rootMaps } from '../../../src/userns/idmap.js';

const range = [{ start: 100000, count: 65536 }];
const ctx: SpecContext = {
  id: '0123456789abcdef',
  uidMappings: rootMaps(1000, range),
  gidMappings: rootMaps(1000, range),
  subuid: range,
  subgid: range,
  setgroupsAllowed: true,
  etcFiles: { hosts: '/run/h', hostname: '/run/n', resolvConf: '/run/r' },
  userDb: {
    passwd: 'root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n',
    group: 'root:x:0:\nstaff:x:50:user\n',
  },
};
const req = (over: Partial<RunRequest> = {}): RunRequest =>
  defaultRunRequest({ rootfs: '/r', command: ['sh'], ...over });

describe('defaultRunRequest', () => {
  it("is a plain run's request (the image's rootfs and command), the overrides on top, with arrays of its own", () => {
    const a = defaultRunRequest();
    expect(a).toMatchObject({ rootfs: '', command: [], network: 'none', readOnly: false, tty: false, env: [] });
    expect(defaultRunRequest({ command: ['id'], tty: true })).toMatchObject({ command: ['id'], tty: true, capAdd: [] });
    a.env.push('A=1');
    expect(defaultRunRequest().env).toEqual([]);
  });
});

describe('buildRunSpec', () => {
  it("gives docker's defaults: root, default caps, no no_new_privs (podman's), seccomp, own namespaces, hostname from the id", () => {
    const spec = buildRunSpec(req(), ctx);
    expect(spec.process).toMatchObject({ user: { uid: 0, gid: 0 }, cwd: '/', noNewPrivileges: false, terminal: false });
    expect(spec.linux!.seccomp).toMatchObject({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38 });
    const opted = buildRunSpec(req({ securityOpts: ['no-new-privileges', 'seccomp=unconfined'] }), ctx);
    expect([opted.process!.noNewPrivileges, 'seccomp' in opted.linux!]).toEqual([true, false]);
    expect(spec.process!.capabilities!.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(spec.process!.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=0123456789ab', 'HOME=/root']);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual([
      'user',
      'mount',
      'pid',
      'uts',
      'ipc',
      'cgroup',
      'network',
    ]);
    expect(spec.mounts!.map((m) => m.destination)).toEqual([
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/sys',
      '/etc/hosts',
      '/etc/hostname',
      '/etc/resolv.conf',
    ]);
    expect(buildRunSpec(req({ network: 'host' }), ctx).linux!.namespaces!.map((n) => n.type)).not.toContain('network');
  });

  it('resolves the user with its groups; without setgroups, no supplementary groups', () => {
    expect(buildRunSpec(req({ user: 'user' }), ctx).process!.user).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [50],
    });
    expect(
      buildRunSpec(req({ user: 'user' }), { ...ctx, setgroupsAllowed: false }).process!.user.additionalGids,
    ).toBeUndefined();
    expect(buildRunSpec(req(), { ...ctx, keepId: { uid: 1000, gid: 1000 } }).process!.user).toMatchObject({
      uid: 1000,
      gid: 1000,
    });
  });

  it('adds and drops capabilities, ALL included', () => {
    const caps = (capAdd: string[], capDrop: string[]) =>
      buildRunSpec(req({ capAdd, capDrop }), ctx).process!.capabilities!.effective;
    expect(caps(['net_admin'], ['CAP_CHOWN', 'kill'])).toEqual([
      ...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_KILL'),
      'CAP_NET_ADMIN',
    ]);
    expect(caps(['SYS_PTRACE'], ['ALL'])).toEqual(['CAP_SYS_PTRACE']);
    expect(caps(['ALL'], [])).toContain('CAP_SYS_ADMIN');
    expect(() => caps(['NOPE'], [])).toThrow('unknown capability NOPE');
  });

  it('parses -e, --ulimit, --tmpfs and refuses malformed ones', () => {
    const spec = buildRunSpec(
      req({
        env: ['A=1', 'PATH=/x', 'B=two=parts'],
        ulimits: ['nofile=10:20', 'core=-1'],
        tmpfs: ['/run:size=1m'],
        tty: true,
      }),
      ctx,
    );
    expect(spec.process!.env).toEqual([
      'PATH=/x',
      'HOSTNAME=0123456789ab',
      'HOME=/root',
      'TERM=xterm',
      'A=1',
      'B=two=parts',
    ]);
    expect(spec.process!.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 10, hard: 20 },
      { type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 },
    ]);
    expect(spec.mounts!.at(-1)).toEqual({
      destination: '/run',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'size=1m'],
    });
    expect(() => buildRunSpec(req({ ulimits: ['files=1'] }), ctx)).toThrow('invalid --ulimit files=1');
    expect(() => buildRunSpec(req({ tmpfs: ['run'] }), ctx)).toThrow('invalid --tmpfs run');
    expect(() => buildRunSpec(req({ volumes: ['rel:/x'] }), ctx)).toThrow('invalid -v rel:/x');
  });
});

describe('the pipeline: flags -> blueprint -> spec -> plan', () => {
  it('makes the blueprint once: plain data whose spec is the same after a trip through JSON (a record)', () => {
    process.env.HUTCH_TEST_PIPELINE = 'from the caller';
    const blueprint = blueprintFromRequest(
      req({ env: ['HUTCH_TEST_PIPELINE', 'UNSET_HERE_1'], user: 'user', ulimits: ['core=-1'] }),
      ctx,
    );
    delete process.env.HUTCH_TEST_PIPELINE;
    expect(blueprint.env).toEqual(['HUTCH_TEST_PIPELINE=from the caller']);
    const again = JSON.parse(JSON.stringify(blueprint)) as typeof blueprint;
    expect(specFromBlueprint(again)).toEqual(specFromBlueprint(blueprint));
  });

  it('places the container at launch without changing the blueprint: user namespace and shared /etc files', () => {
    const blueprint = blueprintFromRequest(req(), ctx);
    const before = JSON.stringify(blueprint);
    const spec = specFromBlueprint(blueprint, {
      userns: '/proc/7/ns/user',
      etcFiles: { hosts: '/run/a/hosts', resolvConf: '/run/a/resolv.conf' },
    });
    expect(spec.linux!.namespaces![0]).toEqual({ type: 'user', path: '/proc/7/ns/user' });
    expect(spec.mounts!.filter((m) => m.destination.startsWith('/etc/')).map((m) => m.source)).toEqual([
      '/run/a/hosts',
      '/run/n',
      '/run/a/resolv.conf',
    ]);
    expect(JSON.stringify(blueprint)).toBe(before);
  });

  it('joins a network namespace made before its launch instead of making one (no clone flag, no loopback step)', () => {
    const blueprint = blueprintFromRequest(req(), ctx);
    const own = specFromBlueprint(blueprint, { userns: '/proc/7/ns/user' });
    expect(own.linux!.namespaces).toContainEqual({ type: 'network' });
    const spec = specFromBlueprint(blueprint, { userns: '/proc/7/ns/user', netns: '/proc/9/ns/net' });
    expect(spec.linux!.namespaces).toContainEqual({ type: 'network', path: '/proc/9/ns/net' });
    const joins = [
      { type: 0x10000000, path: '/proc/7/ns/user' },
      { type: 0x00020000, path: '/proc/7/ns/mnt' },
      { type: 0x40000000, path: '/proc/9/ns/net' },
    ];
    const plan = planFromSpec(spec, { isDirectory: () => false }, { joins });
    expect(plan.cloneFlags & 0x40000000).toBe(0);
    expect(plan.loopback).toBe(false);
    expect(planFromSpec(own, { isDirectory: () => false }).cloneFlags & 0x40000000).toBe(0x40000000);
  });

  it('checks the whole blueprint before anything runs: unmapped users, missing bind sources', () => {
    expect(() => blueprintFromRequest(req({ user: '70000' }), ctx)).toThrow('cannot run as uid 70000');
    expect(() => blueprintFromRequest(req({ volumes: ['/nonexistent-hutch-source:/x'] }), ctx)).toThrow(
      'cannot bind /nonexistent-hutch-source at /x',
    );
  });

  it('plans from the spec and the launch options, never by overriding the plan', () => {
    const spec = specFromBlueprint(blueprintFromRequest(req(), ctx), { userns: '/proc/7/ns/user' });
    const joins = [
      { type: 0x10000000, path: '/proc/7/ns/user' },
      { type: 0x00020000, path: '/proc/7/ns/mnt' },
    ];
    const plan = planFromSpec(spec, { isDirectory: () => false }, { joins, tap: 'tap0', preserveFds: 2 });
    expect(plan).toMatchObject({ joins, tap: 'tap0', preserveFds: 2 });
    expect(planFromSpec(spec, { isDirectory: () => false }).joins).toEqual([joins[0]]);
  });
});
