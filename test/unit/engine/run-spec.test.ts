import { describe, expect, it } from 'vitest';
import { buildRunSpec, DEFAULT_PATH, type RunRequest, type SpecContext } from '../../../src/engine/spec/container-spec.js';
import { DEFAULT_CAPABILITIES } from '../../../src/runtime/linux.js';
import { rootMaps } from '../../../src/userns/idmap.js';

const range = [{ start: 100000, count: 65536 }];
const ctx: SpecContext = {
  id: '0123456789abcdef', uidMappings: rootMaps(1000, range), gidMappings: rootMaps(1000, range), subuid: range, subgid: range,
  setgroupsAllowed: true, etcFiles: { hosts: '/run/h', hostname: '/run/n', resolvConf: '/run/r' },
  userDb: { passwd: 'root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n', group: 'root:x:0:\nstaff:x:50:user\n' },
};
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ rootfs: '/r', command: ['sh'], env: [], envFiles: [], volumes: [], readOnly: false, tmpfs: [], network: 'none', capAdd: [], capDrop: [], tty: false, ulimits: [], ...over });

describe('buildRunSpec', () => {
  it('gives docker\'s defaults: root, default caps, no_new_privs, own namespaces, hostname from the id', () => {
    const spec = buildRunSpec(req(), ctx);
    expect(spec.process).toMatchObject({ user: { uid: 0, gid: 0 }, cwd: '/', noNewPrivileges: true, terminal: false });
    expect(spec.process!.capabilities!.bounding).toEqual(DEFAULT_CAPABILITIES);
    expect(spec.process!.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=0123456789ab', 'HOME=/root']);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['user', 'mount', 'pid', 'uts', 'ipc', 'cgroup', 'network']);
    expect(spec.mounts!.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);
    expect(buildRunSpec(req({ network: 'host' }), ctx).linux!.namespaces!.map((n) => n.type)).not.toContain('network');
  });

  it('resolves the user with its groups; without setgroups, no supplementary groups', () => {
    expect(buildRunSpec(req({ user: 'user' }), ctx).process!.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [50] });
    expect(buildRunSpec(req({ user: 'user' }), { ...ctx, setgroupsAllowed: false }).process!.user.additionalGids).toBeUndefined();
    expect(buildRunSpec(req(), { ...ctx, keepId: { uid: 1000, gid: 1000 } }).process!.user).toMatchObject({ uid: 1000, gid: 1000 });
  });

  it('adds and drops capabilities, ALL included', () => {
    const caps = (capAdd: string[], capDrop: string[]) => buildRunSpec(req({ capAdd, capDrop }), ctx).process!.capabilities!.effective;
    expect(caps(['net_admin'], ['CAP_CHOWN', 'kill'])).toEqual([...DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_KILL'), 'CAP_NET_ADMIN']);
    expect(caps(['SYS_PTRACE'], ['ALL'])).toEqual(['CAP_SYS_PTRACE']);
    expect(caps(['ALL'], [])).toContain('CAP_SYS_ADMIN');
    expect(() => caps(['NOPE'], [])).toThrow('unknown capability NOPE');
  });

  it('parses -e, --ulimit, --tmpfs and refuses malformed ones', () => {
    const spec = buildRunSpec(req({ env: ['A=1', 'PATH=/x', 'B=two=parts'], ulimits: ['nofile=10:20', 'core=-1'], tmpfs: ['/run:size=1m'], tty: true }), ctx);
    expect(spec.process!.env).toEqual(['PATH=/x', 'HOSTNAME=0123456789ab', 'HOME=/root', 'TERM=xterm', 'A=1', 'B=two=parts']);
    expect(spec.process!.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }, { type: 'RLIMIT_CORE', soft: 2 ** 64, hard: 2 ** 64 }]);
    expect(spec.mounts!.at(-1)).toEqual({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m'] });
    expect(() => buildRunSpec(req({ ulimits: ['files=1'] }), ctx)).toThrow('invalid --ulimit files=1');
    expect(() => buildRunSpec(req({ tmpfs: ['run'] }), ctx)).toThrow('invalid --tmpfs run');
    expect(() => buildRunSpec(req({ volumes: ['rel:/x'] }), ctx)).toThrow('invalid -v rel:/x');
  });
});
