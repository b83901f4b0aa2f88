// `hutch sandbox`'s --perms, --file, --bind-data and --ro-bind-data (bubblewrap's), run as the
// unprivileged test user through bin/hutch: the C front, with HUTCH_SANDBOX_NO_NODE=1 so that what
// passes ran in C alone; the error cases let the TypeScript path word them. The bytes of the
// caller's fd land inside the root only, with the mode asked for; the fd never reaches the command.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { requires } from '../helpers/host.js';
import { sandboxWithFds } from '../helpers/sandbox-fds.js';
import { HUTCH, sandbox as scratch, type HutchResultPromise, type Sandbox } from '../helpers/hutch-cli.js';

requires('userns');

let dir: Sandbox;
let home: string;
beforeAll(() => {
  dir = scratch();
  home = join(dir.dir, 'home');
  mkdirSync(home);
});
afterAll(() => dir.remove());

const viaNode = { HUTCH_SANDBOX_NO_NODE: '' };

/** `hutch sandbox FLAGS -- sh -c SCRIPT` with `contents` at fds 3, 4, ... (test/helpers/sandbox-fds.ts). */
const withFds = (
  contents: (string | Buffer)[],
  flags: string[],
  script: string,
  env: Record<string, string> = {},
): Promise<Awaited<HutchResultPromise>> => sandboxWithFds(dir.dir, home, flags, script, contents, env);

describe('hutch sandbox: --file, --bind-data and --ro-bind-data', () => {
  it('writes the bytes (NULs kept) with bubblewrap`s modes or --perms; the fds never reach the command', async () => {
    const r = await withFds(
      ['one\0two\n', 'bound\n', 'ro\n', ''],
      [
        ...['--file', '3', '/data/a', '--perms', '0640', '--file', '4', '/data/b'],
        ...['--bind-data', '5', '/w/c', '--perms', '0444', '--ro-bind-data', '6', '/w/d'],
      ],
      'stat -c "%a %n" /data; stat -c "%a %s %n" /data/a /data/b; stat -c "%a %n" /w; stat -c "%a %s %n" /w/c /w/d; ' +
        'od -An -c /data/a; cat /data/b /w/c; ' +
        'ls /proc/self/fd | tr "\\n" " "; echo; ls -A / | grep -c hutch-data',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      '755 /data', // --file's default 0666 keeps the parents 0755
      '666 8 /data/a',
      '640 6 /data/b',
      '700 /w', // 0600 gives the group and others nothing: the parents made for it neither (bwrap's rule)
      '600 3 /w/c',
      '444 0 /w/d',
      'o n e \\0 t w o \\n',
      'bound',
      'ro',
      '0 1 2 3', // 3: ls's own directory
      '0', // the staged files have no name left in the root
    ]);
  });

  it('--ro-bind-data refuses writes, --bind-data takes them; both go over a file of a read-only bind', async () => {
    const r = await withFds(
      ['sandboxed\n', 'rw\n'],
      ['--ro-bind-data', '3', '/etc/hostname', '--bind-data', '4', '/etc/passwd'],
      'cat /etc/hostname; echo x >> /etc/hostname || echo refused; echo y >> /etc/passwd && cat /etc/passwd',
    );
    expect(r.stdout.split('\n')).toEqual(['sandboxed', 'refused', 'rw', 'y']);
    expect(r.stderr).toMatch(/Read-only file system/);
  });

  it('a --file on a read-only bind, or where something is (a link too), fails naming DEST; nothing runs', async () => {
    for (const [flags, cause] of [
      [['--file', '3', '/etc/hutch-file'], 'make the file /etc/hutch-file: file failed: EROFS'],
      [['--file', '3', '/tmp'], 'make the file /tmp: file failed: EEXIST'],
      [['--symlink', '/tmp/t', '/l', '--file', '3', '/l'], 'make the file /l: file failed: EEXIST'],
      [['--ro-bind-data', '3', '/tmp'], 'bind the data at /tmp: file failed: ENOTDIR'],
    ] as const) {
      const r = await withFds(['x'], [...flags], 'echo ran', viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(cause);
    }
  });

  it('a hostile DEST stays inside the root: `..`, a link to /.., a link to a host path', async () => {
    const state = join(dir.dir, 'hostile-state'); // HUTCH_ROOT: the root is STATE/run/sandbox-root
    const host = join(dir.dir, 'hostile-host');
    const name = `hutch-sandboxdata-${process.pid}`;
    mkdirSync(state, { mode: 0o700 });
    mkdirSync(host);
    const r = await withFds(
      ['a', 'b', 'c', 'd'],
      [
        ...['--file', '3', '/../../escaped', '--symlink', '/..', '/up', '--bind-data', '4', '/up/up-data'],
        ...['--symlink', '/tmp', '/hostlink', '--file', '5', `/hostlink/${name}`],
        ...['--symlink', '/../..', '/up2', '--ro-bind-data', '6', '/up2/up2-data'],
      ],
      `cat /escaped /up-data /tmp/${name} /up2-data`,
      { HUTCH_ROOT: state },
    );
    expect([r.stderr, r.stdout]).toEqual(['', 'abcd']);
    expect(readdirSync(state)).toEqual(['run']);
    expect(readdirSync(join(state, 'run')).filter((f) => /escaped|data/.test(f))).toEqual([]);
    expect(readdirSync('/tmp').filter((f) => f.startsWith(name))).toEqual([]);
    // A link to a host path missing in the sandbox: nothing is made through it, inside or out.
    for (const flag of ['--file', '--bind-data']) {
      const dangling = await withFds(['x'], ['--symlink', host, '/hl', flag, '3', '/hl/made'], 'echo ran', viaNode);
      expect([dangling.exitCode, dangling.stdout]).toEqual([125, '']);
      expect(dangling.stderr).toMatch(/(make the file|bind the data at) \/hl\/made: file failed: ENOENT/);
    }
    expect(readdirSync(host)).toEqual([]);
  });

  it('a bad FD is an error naming it, before anything runs: closed, not a number, 0-2, taken twice', async () => {
    for (const [flags, message] of [
      [['--file', '7', '/x'], 'cannot read --file 7 /x: fd 7 is not open'],
      [['--bind-data', 'x3', '/x'], 'invalid --bind-data FD x3: not a file descriptor number of 3 or more'],
      [['--file', '1', '/x'], 'invalid --file FD 1: not a file descriptor number of 3 or more'],
      [['--file', '3', '/x', '--ro-bind-data', '3', '/y'], 'invalid --ro-bind-data FD 3: an earlier flag takes'],
    ] as const) {
      const r = await withFds(['data'], [...flags], 'echo ran', viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(message);
    }
  });

  it('the TypeScript path alone (`node bin/hutch`) never reads an fd of Node`s own where the caller gave none', async () => {
    const fds = Array.from({ length: 14 }, (_, i) => i + 3); // epoll, eventfd, pipes: Node's, at the lowest numbers
    const runs = await Promise.all(
      fds.map((fd) =>
        execa(process.execPath, [HUTCH, 'sandbox', '--file', String(fd), '/x', '--', 'echo', 'ran'], {
          reject: false,
          stdin: 'ignore',
          env: { HOME: home },
        }),
      ),
    );
    expect(runs.map((r) => [r.exitCode, r.stdout, r.stderr.split('\n')[0]])).toEqual(
      fds.map((fd) => [125, '', `hutch: cannot read --file ${fd} /x: fd ${fd} is not open`]),
    );
  });

  it('reads a pipe to its end; past 8 MiB together is an error, and under it the plan carries it', async () => {
    const pipe = await execa(
      'sh',
      ['-c', 'printf "piped\\n" | "$0" sandbox --file 3 /p -- cat /p 3<&0 </dev/null', HUTCH],
      {
        reject: false,
        env: { HUTCH_SANDBOX_NO_NODE: '1', HOME: home },
      },
    );
    expect([pipe.stderr, pipe.stdout]).toEqual(['', 'piped']);
    const big = Buffer.alloc(5 << 20, 'b');
    const fits = await withFds([big], ['--file', '3', '/big'], 'wc -c < /big');
    expect([fits.stderr, fits.stdout]).toEqual(['', String(5 << 20)]);
    const over = await withFds([big, big], ['--file', '3', '/a', '--file', '4', '/b'], 'echo ran', viaNode);
    expect([over.exitCode, over.stdout]).toEqual([125, '']);
    expect(over.stderr).toContain('cannot read --file 4 /b: the --file and --bind-data contents pass 8 MiB together');
  });
});

describe('hutch sandbox: --perms', () => {
  it('sets the mode of the next --dir or --tmpfs only (parents as bubblewrap makes them)', async () => {
    const r = await withFds(
      [],
      ['--perms', '0700', '--dir', '/p/q', '--dir', '/p/r', '--perms', '1777', '--tmpfs', '/t', '--tmpfs', '/u'],
      'stat -c "%a %n" /p /p/q /p/r /t /u',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['700 /p', '700 /p/q', '755 /p/r', '1777 /t', '755 /u']);
  });

  it('an invalid octal, or a --perms not right before a flag it applies to, is an error; nothing runs', async () => {
    for (const [flags, message] of [
      [['--perms', '0800', '--dir', '/d'], 'invalid --perms 0800: not an octal mode of at most 07777'],
      [['--perms', '17777', '--dir', '/d'], 'invalid --perms 17777'],
      [['--perms', '0700', '--bind', '/usr', '/d'], '--perms 0700 is followed by --bind, which takes no mode'],
      [['--perms', '0700', '--perms', '0700', '--dir', '/d'], '--perms 0700 is followed by --perms'],
      [['--dir', '/d', '--perms', '0700'], '--perms 0700 is not followed by a flag it applies to'],
    ] as const) {
      const r = await withFds([], [...flags], 'echo ran', viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(message);
    }
  });
});
