// `hutch sandbox` and the rest of bubblewrap's command line that launchers and bwrap scripts use
// (--args FD, the namespace flags, --new-session, --hostname), run as the unprivileged test user
// through bin/hutch: the C front with HUTCH_SANDBOX_NO_NODE=1, so that what passes ran in C alone;
// the error cases let the TypeScript path word them (and check the C front hands them over).
import { mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
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

/** Words for an --args fd: each ended by a NUL. */
function nul(...words: string[]): string {
  return words.map((w) => `${w}\0`).join('');
}

/** `hutch sandbox FLAGS -- sh -c SCRIPT` with `contents` at fds 3, 4, ... (test/helpers/sandbox-fds.ts). */
const run = (
  flags: string[],
  script: string,
  contents: (string | Buffer)[] = [],
  env: Record<string, string> = {},
): Promise<Awaited<HutchResultPromise>> => sandboxWithFds(dir.dir, home, flags, script, contents, env);

describe('hutch sandbox --args FD', () => {
  it('splices the fd`s flags where it stands (a --perms before it applies inside), and the fd never reaches the command', async () => {
    const r = await run(
      ['--setenv', 'A', 'cmdline', '--perms', '0700', '--args', '3', '--setenv', 'C', 'after', '--args', '4'],
      'echo "$A $B $C $D"; stat -c "%a %n" /p/q /t; ls /proc/self/fd | tr "\\n" " "',
      [
        nul('--dir', '/p/q', '--setenv', 'A', 'from fd', '--setenv', 'B', 'é ✓', '--tmpfs', '/t'),
        nul('--setenv', 'D', 'd'),
      ],
    );
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n')).toEqual(['from fd é ✓ after d', '700 /p/q', '755 /t', '0 1 2 3 ']);
  });

  it('an empty fd adds nothing', async () => {
    const r = await run(['--args', '3'], 'echo ran', ['']);
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'ran']);
  });

  it('refuses what bubblewrap would misread, before anything runs; the C front hands each to the TypeScript path', async () => {
    const bad: [string, string[], (string | Buffer)[], RegExp][] = [
      ['no NUL at the end', ['--args', '3'], ['--setenv\0X\0one'], /--args 3 does not end with a NUL byte/],
      ['not UTF-8', ['--args', '3'], [Buffer.from([0x2d, 0x2d, 0xff, 0])], /--args 3 holds a word that is not UTF-8/],
      ['too large', ['--args', '3'], ['x'.repeat((1 << 20) + 1)], /--args 3 holds more than 1 MiB/],
      ['too many words', ['--args', '3'], ['--new-session\0'.repeat(9001)], /holds 9001 words, more than 9000/],
      [
        'the command inside',
        ['--args', '3'],
        [nul('--setenv', 'X', '1', 'sh')],
        /--args holds sh, which is not a flag/,
      ],
      ['-- inside', ['--args', '3'], [nul('--', 'sh')], /--args holds --, which is not a flag/],
      ['--args inside', ['--args', '3'], [nul('--args', '4'), ''], /--args holds --args/],
      ['a flag cut short', ['--args', '3', 'X', '1'], [nul('--setenv')], /--args ends within --setenv/],
      ['the fd not open', ['--args', '7'], [], /cannot read --args 7: fd 7 is not open/],
      ['fd 0', ['--args', '0'], [], /invalid --args FD 0: not a file descriptor number of 3 or more/],
      ['read twice', ['--args', '3', '--file', '3', '/x'], [''], /invalid --file FD 3: an earlier flag takes that fd/],
    ];
    for (const [name, flags, fds, message] of bad) {
      const r = await run(flags, 'echo ran', fds, viaNode);
      expect([name, r.exitCode, r.stdout], r.stderr).toEqual([name, 125, '']);
      expect(r.stderr, name).toMatch(message);
      const c = await run(flags, 'echo ran', fds);
      expect([name, c.exitCode, c.stdout]).toEqual([name, 99, '']);
    }
  });

  it('bytes the C front read from --args reach the TypeScript path when it hands over after the read', async () => {
    // A value that is not UTF-8 (sh's printf makes it) is the TypeScript path's: the C front read fd 3 first.
    const file = join(dir.dir, 'args-read-once');
    writeFileSync(file, nul('--setenv', 'X', 'read once'));
    const script = `exec "$0" sandbox --args 3 --setenv Y "$(printf "a\\377")" -- sh -c 'echo "$X"' 3<'${file}'`;
    const viaSh = (env: Record<string, string>) =>
      execa('sh', ['-c', script, HUTCH], { env: { HOME: home, ...env }, reject: false, stdin: 'ignore' });
    const c = await viaSh({ HUTCH_SANDBOX_NO_NODE: '1' });
    expect([c.exitCode, c.stderr]).toEqual([99, 'hutch-sandbox: would hand over to node: a string is not UTF-8']);
    const r = await viaSh({});
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'read once']);
  });
});

describe('hutch sandbox: bubblewrap`s namespace flags', () => {
  const ns = (name: string): string => readlinkSync(`/proc/self/ns/${name}`);
  const script = 'for n in net cgroup pid ipc uts user mnt; do readlink /proc/self/ns/$n; done; echo $$';

  it('accepts what hutch does always, with no flag too: never the caller`s pid, ipc, uts, user or mount namespace', async () => {
    const all = ['--unshare-user', '--unshare-user-try', '--unshare-ipc', '--unshare-pid', '--unshare-uts'];
    for (const flags of [[], all, ['--proc', '/proc/', '--dev', '/dev', '--new-session']]) {
      const r = await run(flags, script);
      expect([r.exitCode, r.stderr]).toEqual([0, '']);
      const [net, cgroup, pid, ipc, uts, user, mnt, self] = r.stdout.split('\n');
      expect(
        [net, pid, ipc, uts, user, mnt].filter((n, i) => n === ns(['net', 'pid', 'ipc', 'uts', 'user', 'mnt'][i]!)),
      ).toEqual([]);
      expect(cgroup).toBe(ns('cgroup')); // only asked for
      expect(Number(self)).toBeLessThan(10);
    }
  });

  it('--unshare-cgroup(-try) and --unshare-all: a cgroup namespace; --share-net after --unshare-all, and --unshare-net after --share-net', async () => {
    for (const [flags, cgroupNs, net] of [
      [['--unshare-cgroup'], true, false],
      [['--unshare-cgroup-try'], true, false],
      [['--unshare-all'], true, false],
      [['--unshare-all', '--share-net'], true, true],
      [['--share-net', '--unshare-all'], true, false],
      [['--share-net', '--unshare-net'], false, false],
    ] as const) {
      const r = await run([...flags], `${script}; tail -1 /proc/self/cgroup; tail -n +3 /proc/net/dev | wc -l`);
      expect([flags, r.exitCode, r.stderr]).toEqual([flags, 0, '']);
      const [netns, cgroup, , , , , , , own, links] = r.stdout.split('\n');
      expect([flags, cgroup !== ns('cgroup'), netns === ns('net')]).toEqual([flags, cgroupNs, net]);
      if (cgroupNs) expect(own).toBe('0::/'); // its own cgroup is its root
      if (!net) expect(links).toBe('1'); // lo only
    }
  });

  it('a bubblewrap flag hutch does not take is named as such, with where to read what hutch does instead', async () => {
    const r = await run(['--uid', '0'], 'echo ran', [], viaNode);
    expect([r.exitCode, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toContain("cannot run hutch sandbox: bubblewrap's --uid is not supported");
    expect(r.stderr).toContain('docs/sandbox.md');
  });

  it('--proc and --dev elsewhere than /proc and /dev: an error naming the flag (SANDBOX_UNSUPPORTED)', async () => {
    for (const flags of [
      ['--proc', '/p'],
      ['--dev', '/d'],
      ['--proc', 'proc'],
    ]) {
      const r = await run(flags, 'echo ran', [], viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toContain(`cannot run hutch sandbox: ${flags.join(' ')}: hutch's is at`);
    }
  });

  it('--mqueue DST: a message queue filesystem of the sandbox`s own IPC namespace, placed by depth', async () => {
    const r = await run(['--mqueue', '/w/mq', '--tmpfs', '/w'], 'grep " /w/mq " /proc/self/mounts | cut -d" " -f1-4');
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'mqueue /w/mq mqueue rw,nosuid,nodev,noexec,relatime']);
  });
});

describe('hutch sandbox --new-session, --hostname, --remount-ro, --argv0', () => {
  it('--new-session: the command leads a session of its own, as always', async () => {
    const r = await run(['--new-session'], 'cut -d" " -f6 /proc/$$/stat; echo $$');
    const [sid, pid] = r.stdout.split('\n');
    expect([r.exitCode, sid]).toEqual([0, pid]);
  });

  it('--remount-ro DST: read-only after every other flag (what is under it made first); / too', async () => {
    const r = await run(
      ['--remount-ro', '/w', '--tmpfs', '/w', '--dir', '/w/d', '--chmod', '0700', '/w/d', '--remount-ro', '/'],
      'stat -c "%a %n" /w/d; touch /w/d/x /new 2>&1 | sed "s/.*: //"; grep -E " /w | / " /proc/self/mounts | cut -d" " -f2,4 | cut -d, -f1',
    );
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n')).toEqual([
      '700 /w/d',
      'Read-only file system',
      'Read-only file system',
      '/ ro',
      '/w rw', // the tmpfs, under its read-only bind on itself
      '/w ro',
    ]);
  });

  it('--remount-ro of a missing path is an error naming it, and nothing runs', async () => {
    const r = await run(['--remount-ro', '/nowhere'], 'echo ran', [], viaNode);
    expect([r.exitCode, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toContain('remount /nowhere read-only');
    expect(r.stderr).toContain('ENOENT');
  });

  it('--argv0 VALUE: the command`s argv[0]; the program run is still the command', async () => {
    const r = await run(['--argv0', 'renamed'], 'echo "$0"; tr "\\0" " " < /proc/$$/cmdline');
    expect([r.exitCode, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n')).toEqual(['renamed', 'renamed -c echo "$0"; tr "\\0" " " < /proc/$$/cmdline ']);
  });

  it('--hostname NAME: the UTS namespace`s hostname', async () => {
    const r = await run(['--hostname', 'box.example'], 'hostname; cat /proc/sys/kernel/hostname');
    expect([r.exitCode, r.stderr, r.stdout]).toEqual([0, '', 'box.example\nbox.example']);
  });
});

describe('hutch sandbox --info-fd, --json-status-fd', () => {
  /** The first line of a readable stream. */
  const firstLine = (stream: NodeJS.ReadableStream): Promise<string> =>
    new Promise((resolve) => {
      let text = '';
      const on = (chunk: Buffer): void => {
        text += chunk.toString();
        if (!text.includes('\n')) return;
        stream.off('data', on);
        resolve(text.slice(0, text.indexOf('\n')));
      };
      stream.on('data', on);
    });
  const rest = (stream: NodeJS.ReadableStream): Promise<string> =>
    new Promise((resolve) => {
      let text = '';
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
      stream.on('end', () => resolve(text));
    });

  for (const via of ['c', 'node'] as const)
    it(`the sandbox's PID 1 once the command runs, then the exit status (${via === 'c' ? 'the C front' : 'the TypeScript path'})`, async () => {
      const words = ['sandbox', '--json-status-fd', '3', '--info-fd', '4', '--', 'sh', '-c', 'read x; exit 3'];
      const child = execa(via === 'c' ? HUTCH : process.execPath, via === 'c' ? words : [HUTCH, ...words], {
        reject: false,
        stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
        env: { HUTCH_DEBUG: '', HUTCH_SANDBOX_NO_NODE: '1', HOME: home },
      }) as unknown as ResultPromise<{ reject: false }>;
      const json = child.stdio[3] as NodeJS.ReadableStream;
      const info = rest(child.stdio[4] as NodeJS.ReadableStream);
      const started = JSON.parse(await firstLine(json)) as { 'child-pid': number };
      const pid = started['child-pid'];
      // Its PID 1, seen from here: the init hutch runs in the sandbox (bubblewrap's child-pid is its own PID 1).
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!.split(/\s+/);
      expect([nspid[0], nspid.at(-1)]).toEqual([String(pid), '1']);
      // and bubblewrap's members for the namespaces made (no cgroup one unless asked).
      const ids = Object.fromEntries(
        ['ipc', 'mnt', 'net', 'pid', 'uts'].map((n) => [`${n}-namespace`, statSync(`/proc/${pid}/ns/${n}`).ino]),
      );
      expect(started).toEqual({ 'child-pid': pid, ...ids });
      expect(JSON.parse(await info)).toEqual({ 'child-pid': pid, ...ids });
      const ended = rest(json);
      child.stdin!.end('go\n');
      const r = await child;
      expect([r.exitCode, r.stderr]).toEqual([3, '']);
      expect((await ended).trim()).toBe('{ "exit-code": 3 }');
    });

  it('an fd that is not open, or taken by another flag, is an error before anything runs', async () => {
    for (const [flags, message] of [
      [['--info-fd', '9'], /cannot write --info-fd 9: fd 9 is not open/],
      [['--json-status-fd', '2'], /invalid --json-status-fd FD 2: not a file descriptor number of 3 or more/],
      [['--info-fd', '3', '--json-status-fd', '3'], /invalid --json-status-fd FD 3: an earlier flag takes that fd/],
    ] as const) {
      const r = await run([...flags], 'echo ran', (flags as readonly string[]).includes('3') ? [''] : [], viaNode);
      expect([r.exitCode, r.stdout]).toEqual([125, '']);
      expect(r.stderr).toMatch(message);
      const c = await run([...flags], 'echo ran', (flags as readonly string[]).includes('3') ? [''] : []);
      expect([c.exitCode, c.stdout]).toEqual([99, '']); // the C front hands each over
    }
  });
});
