// `hutch sandbox`'s two paths make the same helper plan: the C fast path native/hutch-sandbox
// (bin/hutch execs it) and the TypeScript one (src/sandbox -> src/runtime), which stays the
// reference. Each row of a table of command lines and environments runs through both with
// HUTCH_SANDBOX_PRINT_PLAN=1 and the plans must be the same bytes: mounts, links, environment,
// the seccomp program (compiled at build time for C, at run time for TypeScript). What the C
// front does not handle goes to the TypeScript path, which still runs it.
import { execa } from 'execa';
import { closeSync, existsSync, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdStdio, HUTCH, sandbox as scratch, type Sandbox } from '../helpers/hutch-cli.js';

let dir: Sandbox;
let home: string;
let xdg: string;
beforeAll(() => {
  dir = scratch();
  home = join(dir.dir, 'home');
  xdg = join(dir.dir, 'xdg');
  for (const d of [home, xdg, join(dir.dir, 'src'), join(dir.dir, 'src', 'out'), join(xdg, 'pulse')])
    mkdirSync(d, { recursive: true });
  for (const f of ['wayland-9', 'bus', 'pipewire-0', 'pulse/native', 'file', 'xauth']) writeFileSync(join(xdg, f), '');
  symlinkSync(join(dir.dir, 'src'), join(dir.dir, 'link-to-src'));
});
afterAll(() => dir.remove());

const PATH = '/usr/local/bin:/usr/bin:/bin';

let files = 0;

/**
 * Runs bin/hutch (sh: the C front) or `node bin/hutch` (the TypeScript path) with exactly `env`,
 * both from sh: bin/hutch's sh sets PWD when the caller gave none, as a shell does. `fds`: the
 * contents at fds 3, 4, ... (files opened for this run alone: the front reads each to its end).
 */
async function plan(via: 'c' | 'node', args: string[], env: Record<string, string>, fds: string[] = []) {
  const command = '/bin/sh';
  const words = ['-c', 'exec "$0" "$@"', ...(via === 'c' ? [HUTCH] : [process.execPath, HUTCH]), 'sandbox', ...args];
  const marks = { HUTCH_SANDBOX_PRINT_PLAN: '1', ...(via === 'c' ? { HUTCH_SANDBOX_NO_NODE: '1' } : {}) };
  const open = fds.map((content) => {
    const file = join(dir.dir, `fd-${files++}`);
    writeFileSync(file, content);
    return openSync(file, 'r');
  });
  try {
    return await execa(command, words, {
      env: { ...env, ...marks },
      extendEnv: false,
      encoding: 'buffer',
      reject: false,
      cwd: dir.dir,
      stdio: ['ignore', 'pipe', 'pipe', ...open.map(fdStdio)],
    });
  } finally {
    open.forEach((fd) => closeSync(fd));
  }
}

interface Row {
  name: string;
  args: string[];
  env?: Record<string, string>;
  fds?: string[];
}

/** Rows built once the scratch folders exist. */
function rows(): Row[] {
  const base = { PATH, HOME: home, XDG_RUNTIME_DIR: xdg };
  const src = join(dir.dir, 'src');
  return [
    { name: 'the defaults', args: ['--', 'true'] },
    { name: 'a command with no --, and its arguments', args: ['sh', '-c', 'echo "$0"', 'x y'] },
    {
      name: 'binds: every kind, -try with a missing source, relative sources, children before parents, `..`, a file, a symlink',
      args: [
        ...['--ro-bind', 'src/out', '/work/out', '--bind', 'src', '/work', '--dev-bind', '/dev/null', '/dev/null'],
        ...['--bind-try', 'gone', '/a', '--ro-bind-try', src, '/../../b/./c/', '--dev-bind-try', '/dev/zero', '/z'],
        ...['--ro-bind', join(xdg, 'file'), '/etc/extra', '--bind', 'link-to-src', '/l', '--', 'true'],
      ],
    },
    { name: '--tmpfs among binds', args: ['--bind', 'src', '/w/in', '--tmpfs', '/w/', '--tmpfs', '/dev/shm', 'true'] },
    {
      name: '--dir and --symlink among binds and --tmpfs: by depth, `..`, trailing slashes, a link through a link',
      args: [
        ...['--dir', '/run/user/1000/', '--symlink', 'usr/lib', '/lib64x', '--tmpfs', '/w', '--dir', '/w/d/../e'],
        ...['--symlink', '/..', '/up', '--dir', '/up/x', '--bind', 'src', '/w/in', '--dir', '/../../x'],
        ...['--symlink', 'a b/ü', '/w/in/l', '--dir', '/a/b/c/d', 'true'],
      ],
    },
    {
      name: '--dir and --symlink before sockets and devices',
      args: ['--socket', 'wayland', '--dir', '/zzz', '--symlink', '/x', '/l', '--ro-bind', 'src', '/zzz/src', 'true'],
      env: { ...base, WAYLAND_DISPLAY: 'wayland-9' },
    },
    {
      name: '--perms, --file, --bind-data, --ro-bind-data: modes, NULs, an empty fd, by depth among binds and --dir',
      args: [
        ...['--perms', '0700', '--dir', '/p/q', '--perms', '1777', '--tmpfs', '/t', '--tmpfs', '/u'],
        ...['--file', '3', '/w/x/../a', '--perms', '0640', '--ro-bind-data', '4', '/etc/hostname'],
        ...[
          '--tmpfs',
          '/w',
          '--bind-data',
          '5',
          '/w/in/b',
          '--bind',
          'src',
          '/w/in',
          '--perms',
          '0',
          '--file',
          '6',
          '/z',
        ],
        'true',
      ],
      fds: ['a\0b\n', 'host\n', '', 'é ✓'],
    },
    {
      name: '--size before --tmpfs, with --perms either side, leading zeros, the largest size; --perms before --tmpfs; --chmod last',
      args: [
        ...[
          '--size',
          '0100000',
          '--tmpfs',
          '/s',
          '--perms',
          '0700',
          '--size',
          '9223372036854775807',
          '--tmpfs',
          '/a/b',
        ],
        ...['--size', '1', '--perms', '1777', '--tmpfs', '/a/c', '--tmpfs', '/a', '--bind', 'src', '/a/b/in'],
        ...['--chmod', '0700', '/q', '--dir', '/q/r/s/t', 'true'],
      ],
    },
    {
      name: '--chmod: in order, after every other path, bind, socket and device; `..`, the root, a trailing slash',
      args: [
        ...['--chmod', '0700', '/w/d', '--dir', '/w/d', '--tmpfs', '/w', '--chmod', '1777', '/../w/../w/'],
        ...['--socket', 'wayland', '--chmod', '0', '/', '--chmod', '7777', '/w/d', '--symlink', 'd', '/w/l', 'true'],
      ],
      env: { ...base, WAYLAND_DISPLAY: 'wayland-9' },
    },
    { name: '--home and --chdir', args: ['--home', 'src', '--chdir', '/x/../tmp/', 'true'] },
    {
      name: '--share-net, --clearenv, --setenv (HOME too) and --unsetenv, --die-with-parent',
      args: [
        ...['--share-net', '--clearenv', '--setenv', 'A', '1', '--setenv', 'HOME', '/elsewhere', '--setenv', 'A', '2'],
        ...['--unsetenv', 'PATH', '--die-with-parent', 'true'],
      ],
    },
    {
      name: 'the blocklist, variables set twice, numeric and non-ASCII names and values',
      args: ['--setenv', 'KEPT', 'again', '--unsetenv', 'DROPPED', 'true'],
      env: {
        ...base,
        KEPT: 'kept',
        DROPPED: 'x',
        SSH_AUTH_SOCK: '/tmp/agent',
        HUTCH_SECRET: 'x',
        KRB5CCNAME: 'FILE:/tmp/krb',
        DISPLAY: ':0',
        '1': 'index',
        '01': 'name',
        É: 'é ✓',
        EMPTY: '',
      },
    },
    {
      name: 'sockets: wayland, pulseaudio, pipewire and dbus, each its variables',
      args: ['--socket', 'wayland', '--socket', 'pulseaudio', '--socket', 'pipewire', '--socket', 'dbus', 'true'],
      env: {
        ...base,
        WAYLAND_DISPLAY: 'wayland-9',
        DBUS_SESSION_BUS_ADDRESS: `unix:abstract=x,path=${xdg}/bus,guid=1`,
      },
    },
    {
      name: 'sockets at absolute paths and set twice; PULSE_SERVER and PIPEWIRE_REMOTE given',
      args: ['--socket', 'pipewire', '--socket', 'wayland', '--socket', 'pipewire', '--socket', 'pulseaudio', 'true'],
      env: {
        ...base,
        WAYLAND_DISPLAY: `${xdg}//wayland-9`,
        PIPEWIRE_REMOTE: `${xdg}/pipewire-0`,
        PULSE_SERVER: `unix:${xdg}/pulse/native`,
      },
    },
    ...(existsSync('/dev/dri') ? [{ name: '--device dri', args: ['--device', 'dri', 'true'] }] : []),
    { name: 'no HOME', args: ['true'], env: { PATH, XDG_RUNTIME_DIR: xdg } },
    { name: 'HOME a system directory', args: ['true'], env: { PATH, HOME: '/usr/share', XDG_RUNTIME_DIR: xdg } },
    { name: 'HOME with a trailing slash', args: ['true'], env: { PATH, HOME: `${home}/`, XDG_RUNTIME_DIR: xdg } },
    { name: 'HUTCH_ROOT', args: ['true'], env: { ...base, HUTCH_ROOT: join(dir.dir, 'state') } },
    { name: 'no XDG_RUNTIME_DIR (/tmp/hutch-UID)', args: ['true'], env: { PATH, HOME: home } },
  ];
}

describe('hutch sandbox: the C front and the TypeScript path make the same plan', () => {
  it('for every row of the table', async () => {
    for (const row of rows()) {
      const env = row.env ?? { PATH, HOME: home, XDG_RUNTIME_DIR: xdg };
      const [c, node] = await Promise.all([plan('c', row.args, env, row.fds), plan('node', row.args, env, row.fds)]);
      expect({ row: row.name, status: c.exitCode, stderr: Buffer.from(c.stderr).toString() }).toEqual({
        row: row.name,
        status: 0,
        stderr: '',
      });
      expect(node.exitCode).toBe(0);
      expect(Buffer.compare(c.stdout as Uint8Array, node.stdout as Uint8Array), row.name).toBe(0);
    }
  });
});

describe('hutch sandbox: what the C front does not handle goes to the TypeScript path', () => {
  const env = (): Record<string, string> => ({ PATH, HOME: home, XDG_RUNTIME_DIR: xdg });
  /** Runs `script` in sh with bin/hutch as $0 (a byte a JavaScript string cannot hold: sh's printf makes it). */
  const shRunning =
    (script: string) =>
    (extra: Record<string, string> = {}) =>
      execa('sh', ['-c', script, HUTCH], {
        env: { ...env(), ...extra },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      });
  const run = (args: string[], extra: Record<string, string> = {}) =>
    execa(HUTCH, ['sandbox', ...args], {
      env: { ...env(), ...extra },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });

  it('an unknown flag: the TypeScript path answers it', async () => {
    const r = await run(['--unshare-everything', '--', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('cannot run hutch sandbox: unknown flag --unshare-everything');
    const c = await run(['--unshare-everything', '--', 'true'], { HUTCH_SANDBOX_NO_NODE: '1' });
    expect(c.exitCode).toBe(99);
    expect(c.stderr).toContain('would hand over to node: a flag it does not know');
  });

  it('a case it does not port (a value that is not UTF-8) still runs, through the TypeScript path', async () => {
    // A JavaScript string cannot hold the byte: sh's printf makes it.
    const viaSh = shRunning('exec "$0" sandbox --setenv X "$(printf "a\\377")" -- sh -c "echo ran; exit 3"');
    const c = await viaSh({ HUTCH_SANDBOX_NO_NODE: '1' });
    expect([c.exitCode, c.stderr]).toEqual([99, 'hutch-sandbox: would hand over to node: a string is not UTF-8']);
    const r = await viaSh();
    expect([r.exitCode, r.stdout]).toEqual([3, 'ran']);
  });

  it('bytes the C front read reach the TypeScript path when it hands over after the read', async () => {
    const viaSh = shRunning(
      'exec "$0" sandbox --file 3 /x --setenv X "$(printf "a\\377")" -- cat /x 3<<EOF\nread once\nEOF',
    );
    const c = await viaSh({ HUTCH_SANDBOX_NO_NODE: '1' });
    expect([c.exitCode, c.stderr]).toEqual([99, 'hutch-sandbox: would hand over to node: a string is not UTF-8']);
    const r = await viaSh();
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'read once']);
  });

  it('--help is the CLI`s', async () => {
    const r = await run(['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--ro-bind');
  });

  it('a command that is not there: 127 and the TypeScript path`s words', async () => {
    const r = await run(['--', 'no-such-command-here']);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('cannot run no-such-command-here: no such file or directory');
  });
});
