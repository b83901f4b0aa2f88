// `hutch sandbox`'s --size and --chmod, and --perms's parents for --tmpfs (bubblewrap's), run as
// the unprivileged test user through bin/hutch: the C front, with HUTCH_SANDBOX_NO_NODE=1 so that
// what passes ran in C alone; the error cases let the TypeScript path word them. --chmod resolves
// PATH inside the sandbox's root: a link to a host path, `..` or a /proc magic link touch nothing
// of the host.
import { chmodSync, closeSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { requires } from '../helpers/host.js';
import { fdStdio, HUTCH, sandbox as scratch, type HutchResultPromise, type Sandbox } from '../helpers/hutch-cli.js';

requires('userns');

let dir: Sandbox;
let home: string;
let secret: string;
beforeAll(() => {
  dir = scratch();
  home = join(dir.dir, 'home');
  mkdirSync(home);
  // A host file of the test user's own: a --chmod that reached it would succeed.
  secret = join(dir.dir, 'secret');
  writeFileSync(secret, 'host\n');
  chmodSync(secret, 0o640);
  mkdirSync(join(dir.dir, 'shared'));
  writeFileSync(join(dir.dir, 'shared', 'f'), '');
});
afterAll(() => dir.remove());

const viaNode = { HUTCH_SANDBOX_NO_NODE: '' };
const PATHS = ['/a', '/a/b', '/a/b/c', '/t', '/t/u', '/n', '/n/m', '/d', '/d/e', '/f', '/f/g'];

/** `hutch sandbox FLAGS -- sh -c SCRIPT` through the C front alone (unless `env` says otherwise). */
async function run(flags: string[], script: string, env: Record<string, string> = {}) {
  return (await execa(HUTCH, ['sandbox', ...flags, '--', 'sh', '-c', script], {
    reject: false,
    stdin: 'ignore',
    env: { HUTCH_DEBUG: '', HUTCH_SANDBOX_NO_NODE: '1', HOME: home, ...env },
  })) as unknown as Awaited<HutchResultPromise>;
}

/** The host secret's mode: what a --chmod that escaped the root would change. */
const secretMode = (): number => statSync(secret).mode & 0o7777;

describe('hutch sandbox: --size', () => {
  it('limits the next --tmpfs only: statfs shows the size, writing past it is ENOSPC', async () => {
    const r = await run(
      ['--size', '1048576', '--tmpfs', '/s', '--tmpfs', '/u', '--perms', '0700', '--size', '65536', '--tmpfs', '/p/q'],
      'stat -f -c "%b %S" /s /p/q; stat -c "%a %n" /p /p/q; ' +
        'head -c 2097152 /dev/zero > /s/big; echo "write $?"; stat -c %s /s/big; ' +
        'head -c 2097152 /dev/zero > /u/big && stat -c %s /u/big',
    );
    const [s, p, modeP, modeQ, write, written, unlimited] = r.stdout.split('\n');
    expect(s!.split(' ').reduce((a, b) => a * Number(b), 1)).toBe(1048576);
    expect(p!.split(' ').reduce((a, b) => a * Number(b), 1)).toBe(65536);
    expect([modeP, modeQ]).toEqual(['700 /p', '700 /p/q']);
    expect([write, written, unlimited]).toEqual(['write 1', '1048576', '2097152']);
    expect(r.stderr).toContain('No space left on device');
    expect(r.exitCode).toBe(0);
  });

  it('zero, too big, not decimal, or not right before --tmpfs is an error; nothing runs', async () => {
    for (const [flags, message] of [
      [['--size', '0', '--tmpfs', '/t'], 'invalid --size 0: not a number of bytes from 1 to 9223372036854775807'],
      [['--size', '9223372036854775808', '--tmpfs', '/t'], 'invalid --size 9223372036854775808'],
      [['--size', '10M', '--tmpfs', '/t'], 'invalid --size 10M'],
      [['--size', '4096', '--dir', '/d'], '--size 4096 is followed by --dir, which takes no size'],
      [['--size', '4096', '--size', '8192', '--tmpfs', '/t'], '--size 4096 is followed by --size'],
      [['--tmpfs', '/t', '--size', '4096'], '--size 4096 is not followed by a flag it applies to'],
    ] as const) {
      const r = await run([...flags], 'echo ran', viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(message);
    }
  });
});

describe('hutch sandbox: --perms before --tmpfs, --dir, --file', () => {
  it('narrows the parents made for it as bubblewrap 0.8 does (0755 less what the mode denies the group, others)', async () => {
    const data = openSync(secret, 'r');
    try {
      const flags = [
        ...['--perms', '0750', '--tmpfs', '/a/b/c', '--perms', '0700', '--tmpfs', '/t/u', '--tmpfs', '/n/m'],
        ...['--perms', '0701', '--dir', '/d/e', '--perms', '0640', '--file', '3', '/f/g'],
      ];
      const r = (await execa(HUTCH, ['sandbox', ...flags, '--', 'stat', '-c', '%a %n', ...PATHS], {
        reject: false,
        stdio: ['ignore', 'pipe', 'pipe', fdStdio(data)],
        env: { HUTCH_DEBUG: '', HUTCH_SANDBOX_NO_NODE: '1', HOME: home },
      })) as unknown as Awaited<HutchResultPromise>;
      expect([r.exitCode, r.stderr]).toEqual([0, '']);
      // What `bwrap --dev-bind / / --tmpfs /tmp` with the same flags under /tmp shows (bubblewrap 0.8.0).
      expect(r.stdout.split('\n')).toEqual([
        ...['750 /a', '750 /a/b', '750 /a/b/c', '700 /t', '700 /t/u', '755 /n', '755 /n/m'],
        ...['705 /d', '701 /d/e', '750 /f', '640 /f/g'],
      ]);
    } finally {
      closeSync(data);
    }
  });
});

describe('hutch sandbox: --chmod', () => {
  it('sets modes after every other step, in order, following links inside the root', async () => {
    const r = await run(
      [
        ...['--chmod', '0700', '/w/d', '--dir', '/w/d', '--tmpfs', '/w', '--symlink', 'd', '/w/l'],
        ...['--chmod', '0750', '/w/l', '--chmod', '1777', '/../w/../w/', '--chmod', '0711', '/'],
        ...['--symlink', '/..', '/up', '--dir', '/x', '--chmod', '0701', '/up/x'],
      ],
      'stat -c "%a %n" / /w /w/d /x',
    );
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n')).toEqual(['711 /', '1777 /w', '750 /w/d', '701 /x']);
  });

  it('through a read-write bind it changes the host path (as bubblewrap`s)', async () => {
    const shared = join(dir.dir, 'shared');
    const r = await run(['--bind', shared, '/b', '--chmod', '0604', '/b/f'], 'stat -c "%a" /b/f');
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, '604', '']);
    expect(statSync(join(shared, 'f')).mode & 0o7777).toBe(0o604);
  });

  it('hostile paths stay in the root: a link to a host path, `..` in a link, a /proc magic link; nothing runs', async () => {
    for (const [flags, message] of [
      [['--symlink', secret, '/l', '--chmod', '0777', '/l'], 'change the mode of /l to 0777: chmod failed: ENOENT'],
      [
        ['--symlink', '../../../../../../../../..', '/up', '--chmod', '0777', `/up${secret}`],
        `change the mode of /up${secret} to 0777: chmod failed: ENOENT`,
      ],
      [['--chmod', '0777', `/../../..${secret}`], `change the mode of ${secret} to 0777: chmod failed: ENOENT`],
      [['--chmod', '0777', `/proc/self/root${secret}`], `/proc/self/root${secret} to 0777: chmod failed: ELOOP`],
      [['--chmod', '0777', `/proc/1/cwd${secret}`], `/proc/1/cwd${secret} to 0777: chmod failed: ELOOP`],
    ] as const) {
      const r = await run([...flags], 'echo ran', viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(message);
      expect(secretMode()).toBe(0o640);
    }
  });

  it('a missing PATH, a read-only place, a bad mode or a relative PATH is an error naming it; nothing runs', async () => {
    for (const [flags, message] of [
      [['--chmod', '0700', '/no/such'], 'change the mode of /no/such to 0700: chmod failed: ENOENT'],
      [['--chmod', '0700', '/usr'], 'change the mode of /usr to 0700: chmod failed: EROFS'],
      [['--chmod', '0800', '/tmp'], 'invalid --chmod 0800: not an octal mode of at most 07777'],
      [['--chmod', '0700', 'tmp'], 'cannot use --chmod 0700 tmp: a path inside the sandbox must be absolute'],
      [['--perms', '0700', '--chmod', '0700', '/tmp'], '--perms 0700 is followed by --chmod, which takes no mode'],
    ] as const) {
      const r = await run([...flags], 'echo ran', viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(message);
    }
  });
});
