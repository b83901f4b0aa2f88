// `hutch sandbox`'s pure parts: the bubblewrap-style flags, the spec made from them, the environment.
import { describe, expect, it } from 'vitest';
import { parseSandboxArgs } from '../../../src/sandbox/argv.js';
import { sandboxEnv } from '../../../src/sandbox/env.js';
import { sandboxSpec, type SandboxHost } from '../../../src/sandbox/spec.js';
import { planFromSpec } from '../../../src/runtime/plan.js';

const host = (env: NodeJS.ProcessEnv = { HOME: '/home/me' }): SandboxHost => ({
  uid: 1000,
  gid: 1000,
  env,
  cwd: '/work',
  kind: (p) => ({ '/usr': 'dir', '/etc': 'dir', '/bin': 'link', '/lib64': 'link' })[p] as 'dir' | 'link' | undefined,
  readlink: (p) => `usr${p}`,
  exists: (p) => !p.includes('missing'),
  readFd: (fd, what, limit) => {
    if (fd === 9) throw new Error(`cannot read ${what}: fd 9 is not open`);
    return Buffer.alloc(Math.min(fd * 100, limit + 1), fd);
  },
  seccomp: { defaultAction: 'SCMP_ACT_ERRNO' },
});

describe('parseSandboxArgs', () => {
  it('reads flags with their fixed number of words, then the command after --', () => {
    const o = parseSandboxArgs(['--ro-bind-try', 'a', '/b', '--share-net', '--setenv', 'K', 'V', '--', 'ls', '--all']);
    expect(o.binds).toEqual([{ kind: 'ro-bind', source: 'a', destination: '/b', optional: true }]);
    expect(o.shareNet).toBe(true);
    expect(o.setenv).toEqual([['K', 'V']]);
    expect(o.args).toEqual(['ls', '--all']);
  });

  it('refuses an unknown flag, a flag short of its words, no command, and an unknown socket', () => {
    expect(() => parseSandboxArgs(['--nope', '--', 'true'])).toThrow(/unknown flag --nope/);
    expect(() => parseSandboxArgs(['--bind', 'a'])).toThrow(/--bind needs SRC DST/);
    expect(() => parseSandboxArgs(['--share-net'])).toThrow(/no command given/);
    expect(() => parseSandboxArgs(['--socket', 'fax', '--', 'true'])).toThrow(/invalid --socket fax/);
  });
});

describe('sandboxSpec', () => {
  it('puts a tmpfs at /, the host symlinks right after it, the binds parents first', () => {
    const options = parseSandboxArgs(['--bind', 'out', '/src/out', '--ro-bind', '/code', '/src', '--', 'make']);
    const { spec, rootLinks } = sandboxSpec(options, '/run/root', host());
    expect(spec.mounts![0]).toMatchObject({ destination: '/', type: 'tmpfs' });
    expect(rootLinks).toEqual([
      { target: 'usr/bin', path: '/bin' },
      { target: 'usr/lib64', path: '/lib64' },
    ]);
    const dests = spec.mounts!.map((m) => m.destination);
    expect(dests).toEqual(['/', '/usr', '/etc', '/proc', '/dev', '/tmp', '/home/me', '/src', '/src/out']);
    expect(spec.mounts!.at(-1)).toMatchObject({ source: '/work/out', options: ['rbind'] });
    expect(spec.process!.cwd).toBe('/home/me');
    expect(spec.linux!.uidMappings).toEqual([{ containerID: 1000, hostID: 1000, size: 1 }]);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toContain('network');
  });

  it('--tmpfs: an empty tmpfs among the binds, by depth; a relative one refused', () => {
    const options = parseSandboxArgs(['--bind', 'in', '/w/in', '--tmpfs', '/w/', '--', 'true']);
    const mounts = sandboxSpec(options, '/run/root', host()).spec.mounts!;
    expect(mounts.slice(-2)).toEqual([
      { destination: '/w', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=0755'] },
      { destination: '/w/in', type: 'bind', source: '/work/in', options: ['rbind'] },
    ]);
    expect(() => sandboxSpec(parseSandboxArgs(['--tmpfs', 'w', '--', 'true']), '/r', host())).toThrow(
      /cannot use --tmpfs w: a path inside the sandbox must be absolute/,
    );
  });

  it('--dir and --symlink: no mounts, placed among the binds by depth, in the plan before the mount they precede', () => {
    const args = [
      '--dir',
      '/w/d/',
      '--tmpfs',
      '/w',
      '--symlink',
      'usr/lib',
      '/l',
      '--bind',
      'in',
      '/w/in',
      '--',
      'true',
    ];
    const { spec, rootPaths } = sandboxSpec(parseSandboxArgs(args), '/r', host());
    expect(spec.mounts!.map((m) => m.destination).slice(-2)).toEqual(['/w', '/w/in']);
    const at = spec.mounts!.length;
    expect(rootPaths).toEqual([
      { kind: 'symlink', target: 'usr/lib', path: '/l', at: at - 1 },
      { kind: 'dir', path: '/w/d', mode: 0o755, at: at - 1 }, // at one depth in the order given: before the bind
    ]);
    const fs = planFromSpec(spec, { isDirectory: () => true }, { rootPaths }).fs;
    const steps = fs.map((s) => (s.kind === 'mount' ? s.target : s.kind === 'dir' ? `dir ${s.path}` : s.kind));
    expect(steps.slice(steps.indexOf('/r/w'), steps.indexOf('mask'))).toEqual([
      '/r/w',
      'symlink-in-root',
      'dir /r/w/d',
      '/r/w/in',
    ]);
    expect(fs).toContainEqual({ kind: 'symlink-in-root', target: 'usr/lib', linkpath: '/r/l', what: '/l -> usr/lib' });
    expect(() => sandboxSpec(parseSandboxArgs(['--symlink', '/t', 'l', '--', 'true']), '/r', host())).toThrow(
      /cannot use --symlink \/t l: a path inside the sandbox must be absolute/,
    );
  });

  it('--perms, --file, --bind-data, --ro-bind-data: bubblewrap`s modes, the fds read in order, by depth', () => {
    const words = ['--perms', '0700', '--dir', '/d', '--perms', '1777', '--tmpfs', '/t', '--tmpfs', '/u'];
    words.push(
      '--file',
      '3',
      '/f',
      '--perms',
      '0640',
      '--ro-bind-data',
      '4',
      '/etc/x',
      '--bind-data',
      '5',
      '/b',
      'true',
    );
    const { spec, rootPaths } = sandboxSpec(parseSandboxArgs(words), '/r', host());
    const tmpfs = spec.mounts!.filter((m) => m.destination === '/t' || m.destination === '/u');
    expect(tmpfs.map((m) => m.options!.at(-1))).toEqual(['mode=1777', 'mode=0755']);
    const paths = rootPaths.map(({ at: _, ...p }) => ('data' in p ? { ...p, data: p.data.toString('hex') } : p));
    expect(paths).toEqual([
      { kind: 'dir', path: '/d', mode: 0o700 },
      { kind: 'dir', path: '/t', mode: 0o1777 }, // --perms before --tmpfs: its parents made as --dir's
      { kind: 'file', path: '/f', mode: 0o666, data: '03'.repeat(300) },
      { kind: 'file', path: '/b', mode: 0o600, data: '05'.repeat(500), bind: 'rw' },
      { kind: 'file', path: '/etc/x', mode: 0o640, data: '04'.repeat(400), bind: 'ro' },
    ]);
    expect(() => sandboxSpec(parseSandboxArgs(['--file', '9', '/x', 'true']), '/r', host())).toThrow(
      /fd 9 is not open/,
    );
    for (const [bad, message] of [
      [['--perms', '8', '--dir', '/d'], /invalid --perms 8/],
      [['--perms', '0700', '--symlink', 'a', '/b'], /--perms 0700 is followed by --symlink/],
      [['--tmpfs', '/t', '--perms', '0700'], /--perms 0700 is not followed/],
      [['--file', '-1', '/x'], /invalid --file FD -1/],
      [['--file', '3', '/x', '--bind-data', '3', '/y'], /an earlier flag reads that fd already/],
    ] as const)
      expect(() => parseSandboxArgs([...bad, 'true'])).toThrow(message);
  });

  it('--size: size= on the next --tmpfs only, with or after --perms; bubblewrap`s limits; decimal only', () => {
    const words = ['--size', '0100000', '--perms', '0700', '--tmpfs', '/s', '--tmpfs', '/u', '--perms', '0750'];
    words.push('--size', '9223372036854775807', '--tmpfs', '/v', 'true');
    const { spec } = sandboxSpec(parseSandboxArgs(words), '/r', host());
    const tmpfs = spec.mounts!.filter((m) => ['/s', '/u', '/v'].includes(m.destination));
    expect(tmpfs.map((m) => m.options!.slice(2))).toEqual([
      ['mode=0700', 'size=100000'],
      ['mode=0755'],
      ['mode=0750', 'size=9223372036854775807'],
    ]);
    for (const [bad, message] of [
      [['--size', '0', '--tmpfs', '/t'], /invalid --size 0: not a number of bytes from 1 to 9223372036854775807/],
      [['--size', '9223372036854775808', '--tmpfs', '/t'], /invalid --size 9223372036854775808/],
      [['--size', '1k', '--tmpfs', '/t'], /invalid --size 1k/],
      [['--size', '0x10', '--tmpfs', '/t'], /invalid --size 0x10/],
      [['--size', '10', '--dir', '/d'], /--size 10 is followed by --dir, which takes no size/],
      [['--size', '10', '--perms', '0700', '--dir', '/d'], /--size 10 is followed by --dir/],
      [['--size', '1', '--size', '2', '--tmpfs', '/t'], /--size 1 is followed by --size: one flag takes one size/],
      [['--tmpfs', '/t', '--size', '10'], /--size 10 is not followed by a flag it applies to/],
      [['--perms', '0700', '--size', '10', '--file', '3', '/f'], /--size 10 is followed by --file/],
    ] as const)
      expect(() => parseSandboxArgs([...bad, 'true'])).toThrow(message);
  });

  it('--chmod: after every other path and mount, in order; an octal of at most 07777, an absolute PATH', () => {
    const words = ['--chmod', '0700', '/w/d', '--dir', '/w/d', '--tmpfs', '/w', '--chmod', '1777', '/../w/../w'];
    const { spec, rootPaths } = sandboxSpec(parseSandboxArgs([...words, '--device', 'dri', 'true']), '/r', host());
    const at = spec.mounts!.length;
    expect(spec.mounts!.at(-1)!.destination).toBe('/dev/dri'); // after the devices too
    expect(rootPaths.filter((p) => p.kind === 'chmod')).toEqual([
      { kind: 'chmod', path: '/w/d', mode: 0o700, at },
      { kind: 'chmod', path: '/w', mode: 0o1777, at },
    ]);
    const fs = planFromSpec(spec, { isDirectory: () => true }, { rootPaths }).fs;
    const steps = fs.map((s) => (s.kind === 'mount' ? s.target : 'path' in s ? `${s.kind} ${s.path}` : s.kind));
    expect(steps.slice(steps.indexOf('/r/dev/dri'), steps.indexOf('mask /r/proc/acpi'))).toEqual([
      '/r/dev/dri',
      'chmod /r/w/d',
      'chmod /r/w',
    ]);
    expect(fs).toContainEqual({ kind: 'chmod', path: '/r/w', mode: 0o1777, what: '/w' });
    for (const [bad, message] of [
      [['--chmod', '0800', '/x'], /invalid --chmod 0800: not an octal mode of at most 07777/],
      [['--chmod', '17777', '/x'], /invalid --chmod 17777/],
      [['--perms', '0700', '--chmod', '0700', '/x'], /--perms 0700 is followed by --chmod, which takes no mode/],
      [['--size', '10', '--chmod', '0700', '/x'], /--size 10 is followed by --chmod/],
      [['--chmod', '0700'], /--chmod needs OCTAL PATH/],
    ] as const)
      expect(() => parseSandboxArgs(bad.length > 2 ? [...bad, 'true'] : [...bad])).toThrow(message);
    expect(() => sandboxSpec(parseSandboxArgs(['--chmod', '0700', 'x', 'true']), '/r', host())).toThrow(
      /cannot use --chmod 0700 x: a path inside the sandbox must be absolute/,
    );
  });

  it('skips a missing -try source and refuses a missing plain one or a relative destination', () => {
    const tried = sandboxSpec(parseSandboxArgs(['--bind-try', '/missing', '/m', '--', 'true']), '/r', host());
    expect(tried.spec.mounts!.map((m) => m.destination)).not.toContain('/m');
    expect(() => sandboxSpec(parseSandboxArgs(['--bind', '/missing', '/m', '--', 'true']), '/r', host())).toThrow(
      /cannot bind \/missing at \/m: \/missing does not exist/,
    );
    expect(() => sandboxSpec(parseSandboxArgs(['--bind', '/x', 'm', '--', 'true']), '/r', host())).toThrow(
      /must be absolute/,
    );
  });
});

describe('sandboxEnv', () => {
  it('drops the blocklist and HUTCH_*, then applies own variables, --setenv and --unsetenv', () => {
    const env = sandboxEnv(
      { clearenv: false, setenv: [['A', '1']], unsetenv: ['B'] },
      { B: 'b', C: 'c', SSH_AUTH_SOCK: 's', LD_PRELOAD: 'x', HUTCH_ROOT: 'r', DISPLAY: ':0' },
      { HOME: '/home/me' },
    );
    expect(env.sort()).toEqual(['A=1', 'C=c', 'HOME=/home/me']);
  });
});
