// `hutch run --rootfs DIR -v HOST:CTR[:ro|rw]` through the C front (native/hutch-run-front) and
// the TypeScript path: the plans are the same bytes (the binds after the /etc files, their flags,
// MKDIR or MKFILE, the read-only remount, the target resolved inside the tree by the helper),
// every other -v (a named volume, U, O, a missing source, a destination the tree lacks)
// is handed over, and real runs see the host's files, write through rw as the user outside,
// cannot write through ro, and leave nothing mounted or behind.
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { sandbox as scratch, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';
import { busyboxRootfs } from '../helpers/rootfs.js';
import {
  hutchVia as hutchAt,
  IN_C,
  noNetworkRun,
  normalized,
  startedVia,
  text,
  type Via,
} from '../helpers/run-front.js';

let dir: Sandbox;
let at: { cwd: string; home: string };
/** The busybox tree with /data, /ro, /file.txt, and links: /out to a host path the tree also has, /escape climbing out. */
let tree: string;
/** Host folders and a file to bind: data (hello), other (other), file.txt. */
let host: { data: string; other: string; file: string; link: string };

beforeAll(async () => {
  requires('userns', 'subuid', 'newuidmap', 'busybox');
  dir = scratch();
  at = { cwd: dir.dir, home: join(dir.dir, 'home') };
  mkdirSync(at.home);
  host = {
    data: join(dir.dir, 'host', 'data'),
    other: join(dir.dir, 'host', 'other'),
    file: join(dir.dir, 'host', 'file.txt'),
    link: join(dir.dir, 'host', 'link'),
  };
  mkdirSync(host.data, { recursive: true });
  mkdirSync(host.other);
  writeFileSync(join(host.data, 'hello'), 'hello from the host\n');
  writeFileSync(join(host.other, 'other'), 'other\n');
  writeFileSync(host.file, 'a host file\n');
  symlinkSync('data', host.link); // a source with a symlink component: bound as the path says
  tree = await busyboxRootfs(join(dir.dir, 'tree'));
  for (const d of ['data', 'ro', 'srv']) mkdirSync(join(tree, d));
  writeFileSync(join(tree, 'file.txt'), '');
  // Hostile links: an absolute one to a host path (which the tree has too: it exists in the tree),
  // and a relative one climbing out of the tree. Both resolve inside it, never on the host.
  mkdirSync(join(tree, host.other), { recursive: true });
  symlinkSync(host.other, join(tree, 'out'));
  symlinkSync('../../../../../../../../srv', join(tree, 'escape'));
  // A link to a host folder the tree lacks: the destination is missing in the tree (the union's).
  symlinkSync(host.data, join(tree, 'gone'));
  symlinkSync('./srv/../data', join(tree, 'rel')); // `..` inside a link's text, after what precedes it
  symlinkSync('loop', join(tree, 'loop')); // ELOOP: absent
});
afterAll(() => dir.remove());

function hutchVia(via: Via, args: string[], env: Record<string, string> = {}) {
  return hutchAt(via, args, at, env);
}
const run = (...rest: string[]): string[] => noNetworkRun(dir.root, tree, ...rest);

describe('hutch run --rootfs -v: the C front makes the TypeScript path plan', () => {
  it('for every row', async () => {
    const rows: [string, string[]][] = [
      ['one volume', run('-v', `${host.data}:/data`, 'true')],
      [
        'several: -v, --volume, --volume=, ro and rw, among other flags',
        run(
          ...['-v', `${host.data}:/data:rw`, '-e', 'A=1', '--volume', `${host.other}:/ro:ro`],
          ...[`--volume=${host.file}:/file.txt:ro`, '-w', '/data', 'true'],
        ),
      ],
      [
        'a file bind, a source through a symlink with `..` and a trailing slash, a destination with `..` and a trailing slash',
        run('-v', `${host.file}:/etc/../file.txt`, '-v', `${host.link}/../link/:/data/`, 'true'),
      ],
      [
        'destinations missing in the tree beneath /dev and beneath an earlier -v (MKDIR, MKFILE there)',
        run(
          '-v',
          `${host.data}:/dev/data`,
          '-v',
          `${host.file}:/dev/file.txt`,
          '-v',
          `${host.data}:/data`,
          '-v',
          `${host.other}:/data/sub`,
          'true',
        ),
      ],
      [
        'destinations through links in the tree (absolute, climbing out): resolved inside it',
        run('-v', `${host.data}:/out`, '-v', `${host.data}:/escape`, '-v', `${host.other}:/rel`, 'true'),
      ],
      [
        'sources relative to the working directory: ./, ../, . and .. (flags.ts isHostPath)',
        run(
          ...['-v', './host/data:/data', '-v', '../' + dir.dir.split('/').pop()! + '/host/file.txt:/file.txt:ro'],
          ...['-v', '.:/srv', '-v', '..:/ro', 'true'],
        ),
      ],
      [
        'the same destination twice, and over a system one (/etc/hosts)',
        run('-v', `${host.data}:/data`, '-v', `${host.other}:/data`, '-v', `${host.file}:/etc/hosts`, 'true'),
      ],
    ];
    for (const [name, args] of rows) {
      const env = { HUTCH_RUN_PRINT_PLAN: '1' };
      const node = await hutchVia('node', args, env);
      const c = await hutchVia('c', args, { ...env, ...IN_C });
      expect({ name, status: node.exitCode, err: text(node.stderr) }).toEqual({ name, status: 0, err: '' });
      expect({ name, status: c.exitCode, err: text(c.stderr) }).toEqual({ name, status: 0, err: '' });
      expect(normalized(c.stdout), name).toBe(normalized(node.stdout));
    }
  });

  it('hands over every other -v, with its reason, and the TypeScript path then gives its own output', async () => {
    const script = 'ls /data /cache 2>&1; echo done';
    const rows: { name: string; args: string[]; why: string; proofOnly?: boolean }[] = [
      { name: 'a named volume', args: run('-v', 'cache:/cache', 'sh', '-c', script), why: "a volume's name" },
      {
        name: 'a named volume with a dot',
        args: run('-v', '.cache:/cache', 'sh', '-c', script),
        why: "a volume's name",
      },
      { name: 'an anonymous volume', args: run('-v', '/cache', 'sh', '-c', script), why: 'anonymous' },
      ...['U', 'O', 'z', 'ro,rw', 'nocopy', 'ro:x'].map((o) => ({
        name: `option ${o}`,
        args: run('-v', `${host.data}:/data:${o}`, 'sh', '-c', script),
        why: 'option other than ro or rw',
      })),
      { name: 'an empty destination', args: run('-v', `${host.data}:`, 'true'), why: 'not an absolute path' },
      { name: 'a relative destination', args: run('-v', `${host.data}:data`, 'true'), why: 'not an absolute path' },
      {
        name: 'a source that does not exist (its error is the TypeScript path’s)',
        args: run('-v', `${join(dir.dir, 'nope')}:/data`, 'true'),
        why: 'does not exist',
      },
      {
        name: 'a device as source',
        args: run('-v', '/dev/null:/data/null', 'true'),
        why: 'no directory or regular file',
      },
      { name: 'the container’s root', args: run('-v', `${host.data}:/`, 'true'), why: 'over the container' },
      { name: '-v=', args: run(`-v=${host.data}:/data`, 'true'), why: 'a short flag with `=`' },
      {
        name: '--mount',
        args: run('--mount', `type=bind,src=${host.data},dst=/data`, 'sh', '-c', script),
        why: 'a flag it does not handle',
      },
      {
        name: '--tmpfs at a destination the tree lacks (the union runs it)',
        args: run('--tmpfs', '/cache', 'sh', '-c', script),
        why: 'the tree lacks a --tmpfs destination',
      },
      {
        name: 'a destination the tree lacks (the union runs it)',
        args: run('-v', `${host.data}:/cache`, 'sh', '-c', script),
        why: 'the tree lacks a -v destination',
      },
      {
        name: 'a destination through a link to a host folder the tree lacks',
        args: run('-v', `${host.other}:/gone`, 'sh', '-c', 'ls /gone; ls /data'),
        why: 'the tree lacks a -v destination',
      },
      {
        name: 'a destination through a link loop',
        args: run('-v', `${host.other}:/loop`, 'true'),
        why: 'the tree lacks a -v destination',
        proofOnly: true, // the union's run of it: the TypeScript path's test
      },
      {
        name: 'more -v than it keeps',
        args: run(...Array.from({ length: 65 }, () => ['-v', `${host.data}:/data`]).flat(), 'true'),
        why: 'more -v than it keeps',
        proofOnly: true,
      },
    ];
    for (const row of rows) {
      const proof = await hutchVia('c', row.args, IN_C);
      expect({ row: row.name, status: proof.exitCode }).toEqual({ row: row.name, status: 99 });
      expect(text(proof.stderr), row.name).toMatch(/^hutch-run-front: would hand over to node: /);
      expect(text(proof.stderr), row.name).toContain(row.why);
      if (row.proofOnly) continue;
      // A union daemon started for a tree lacking a destination ends with its run.
      const linger = { HUTCH_FS_LINGER: '0' };
      const [c, node] = [await hutchVia('c', row.args, linger), await hutchVia('node', row.args, linger)];
      const masked = (b: Uint8Array): string => text(b).replace(/[0-9a-f]{12,64}/g, 'ID');
      expect({ row: row.name, status: c.exitCode, out: masked(c.stdout), err: masked(c.stderr) }).toEqual({
        row: row.name,
        status: node.exitCode,
        out: masked(node.stdout),
        err: masked(node.stderr),
      });
    }
  });
});

describe('hutch run --rootfs -v through the C front, for real', () => {
  let before: ReturnType<typeof leakSnapshot>;
  beforeAll(() => {
    before = leakSnapshot();
  });

  it('shows the host folder and file, writes through rw as the user outside, not through ro', async () => {
    const script =
      'cat /data/hello /file.txt; ls /ro; echo new > /data/new && echo wrote; ' +
      'touch /ro/x 2>&1 | sed "s/.*: //"; { echo x >> /file.txt; } 2>&1 | sed "s/.*: //"; ' +
      'grep -E " /(data|ro|file.txt) " /proc/self/mounts | cut -d" " -f2,4 | cut -d, -f1';
    const args = run(
      ...['-v', `${host.data}:/data`, '-v', `${host.other}:/ro:ro`, '-v', `${host.file}:/file.txt:ro`],
      ...['sh', '-c', script],
    );
    const c = await hutchVia('c', args, IN_C);
    expect({ status: c.exitCode, err: text(c.stderr) }).toEqual({ status: 0, err: '' });
    expect(text(c.stdout)).toBe(
      'hello from the host\na host file\nother\nwrote\nRead-only file system\nRead-only file system\n' +
        '/data rw\n/ro ro\n/file.txt ro',
    );
    const written = join(host.data, 'new');
    expect(readFileSync(written, 'utf8')).toBe('new\n');
    expect([statSync(written).uid, statSync(written).gid]).toEqual([process.getuid!(), process.getgid!()]);
    expect(readdirSync(host.other)).toEqual(['other']);
    const node = await hutchVia('node', args);
    expect({ status: node.exitCode, out: text(node.stdout) }).toEqual({ status: 0, out: text(c.stdout) });
    await expectNoLeaks(before, [join(dir.root, 'run'), join(dir.root, 'data')]);
  });

  it('binds through links in the tree inside the tree, never on the host paths they name', async () => {
    // /out names a host path (the tree has it too), /escape climbs out to /srv: both are the tree's.
    const script = `cat /out/hello; ls /srv; cat ${host.other}/hello`;
    const args = run('-v', `${host.data}:/out`, '-v', `${host.other}:/escape`, 'sh', '-c', script);
    for (const via of ['c', 'node'] as const) {
      const result = await hutchVia(via, args, via === 'c' ? IN_C : {});
      expect({ via, status: result.exitCode, err: text(result.stderr) }).toEqual({ via, status: 0, err: '' });
      expect(text(result.stdout), via).toBe('hello from the host\nother\nhello from the host');
    }
    expect(readdirSync(join(tree, 'srv'))).toEqual([]);
    await expectNoLeaks(before, [join(dir.root, 'run'), join(dir.root, 'data')]);
  });

  it("leaves setup.json the TypeScript path's while the container runs", async () => {
    const args = run('-v', `${host.data}:/data:ro`, 'sh', '-c', 'echo up; sleep 1');
    const seen: Record<Via, string> = { c: '', node: '' };
    for (const via of ['c', 'node'] as const) {
      const { child } = await startedVia(via, args, at, via === 'c' ? IN_C : {});
      const [id] = readdirSync(join(dir.root, 'data', 'ephemeral')).filter((n) => !n.startsWith('.'));
      const data = join(dir.root, 'data', 'ephemeral', id!);
      seen[via] = `${readdirSync(data).join(' ')}: ${readFileSync(join(data, 'setup.json'), 'utf8')}`;
      expect((await child).exitCode).toBe(0);
    }
    expect(seen.c).toBe(seen.node);
    expect(seen.c).toContain(',"volumes":[]}');
    await expectNoLeaks(before, [join(dir.root, 'run'), join(dir.root, 'data')]);
  });
});
