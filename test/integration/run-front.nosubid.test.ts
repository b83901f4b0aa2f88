// `hutch run --rootfs` through the C front (native/hutch-run-front) for a user without a
// /etc/subuid range (runs as `hutchnosub`): the user alone is mapped, its own ids to root, the
// maps written by the front after the clone (setgroups denied first), as launch.ts writes them.
// The plan, the once-a-boot warning, the errors and the container's behaviour are the TypeScript
// path's (run-front.test.ts compares the paths for a user with a range).
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, requires } from '../helpers/host.js';
import { sandbox as scratch, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { containerOutside, hutchVia, IN_C, noNetworkRun, normalized, text } from '../helpers/run-front.js';

const me = userInfo();
const WARNING = `hutch: warning: no /etc/subuid range for ${me.username}: only your own uid is mapped (to root) in containers; images with other users may fail`; // (execa strips the line break)

// npm test runs this file as the user without a range (HUTCH_TEST_NOSUBID_USER); others skip it.
describe.skipIf(me.username !== process.env.HUTCH_TEST_NOSUBID_USER)('the C front for the user alone', () => {
  let dir: Sandbox;
  let at: { cwd: string; home: string };
  let plain: string;
  let groups: string;
  beforeAll(async () => {
    requires('userns', 'busybox', 'slirp4netns', 'tun');
    if (missing('subuid') === undefined)
      throw new Error(`${me.username} has a /etc/subuid range: this file must run as a user without one`);
    dir = scratch();
    at = { cwd: dir.dir, home: join(dir.dir, 'home') };
    mkdirSync(at.home);
    plain = await busyboxRootfs(join(dir.dir, 'plain'));
    groups = await busyboxRootfs(join(dir.dir, 'groups'));
    writeFileSync(join(groups, 'etc/group'), 'root:x:0:root\nwheel:x:10:root\naudio:x:29:root\n');
  });
  afterAll(() => dir.remove());
  const none = (root: string, ...rest: string[]): string[] => noNetworkRun(root, plain, ...rest);

  it('warns once a boot, in the same words, whichever path runs first', async () => {
    const cFirst = join(dir.dir, 'warn-c');
    const first = await hutchVia('c', none(cFirst, 'true'), at, IN_C);
    expect({ status: first.exitCode, err: text(first.stderr) }).toEqual({ status: 0, err: WARNING });
    expect(existsSync(join(cFirst, 'run', 'warned-no-subuid'))).toBe(true);
    for (const via of ['c', 'node'] as const) {
      const again = await hutchVia(via, none(cFirst, 'true'), at, via === 'c' ? IN_C : {});
      expect({ via, status: again.exitCode, err: text(again.stderr) }).toEqual({ via, status: 0, err: '' });
    }
    const nodeFirst = await hutchVia('node', none(join(dir.dir, 'warn-node'), 'true'), at);
    expect(text(nodeFirst.stderr)).toBe(WARNING);
  });

  it('makes the plan the TypeScript path makes: no id map tool, no setgroups', async () => {
    const root = dir.root;
    // The TypeScript path's run caches slirp4netns' --help (the front reads it) and says the warning.
    expect((await hutchVia('node', ['--root', root, 'run', '--rootfs', plain, 'true'], at)).exitCode).toBe(0);
    const rows: [string, string[]][] = [
      ['--network none', none(root, 'true')],
      ['the default network (slirp4netns)', ['--root', root, 'run', '--rootfs', plain, 'true']],
      [
        '--network host, -e, -w, --hostname',
        [
          '--root',
          root,
          'run',
          '--network',
          'host',
          '-e',
          'A=1',
          '-w',
          '/tmp',
          '--hostname',
          'box',
          '--rootfs',
          plain,
          'id',
        ],
      ],
      ['-u 0:0', none(root, '-u', '0:0', 'true')],
      ['-v rw and ro', none(root, '-v', `${at.home}:/root`, '-v', `${at.home}:/tmp:ro`, 'true')],
      [
        'root in supplementary groups (none set)',
        ['--root', root, 'run', '--network', 'none', '--rootfs', groups, 'id'],
      ],
    ];
    for (const [name, args] of rows) {
      const env = { HUTCH_RUN_PRINT_PLAN: '1' };
      const node = await hutchVia('node', args, at, env);
      const c = await hutchVia('c', args, at, { ...env, ...IN_C });
      expect({ name, status: node.exitCode, err: text(node.stderr) }).toEqual({ name, status: 0, err: '' });
      expect({ name, status: c.exitCode, err: text(c.stderr) }).toEqual({ name, status: 0, err: '' });
      expect(normalized(c.stdout), name).toBe(normalized(node.stdout));
      expect(normalized(c.stdout), name).not.toMatch(/newuidmap|newgidmap/);
    }
  });

  it('hands an unmapped user or group over: the TypeScript path says why', async () => {
    for (const user of ['1000', '0:5', 'user']) {
      const args = none(dir.root, '-u', user, 'true');
      const proof = await hutchVia('c', args, at, IN_C);
      expect({ user, status: proof.exitCode }).toEqual({ user, status: 99 });
      expect(text(proof.stderr)).toContain("the container's user is not mapped");
      const [c, node] = [await hutchVia('c', args, at), await hutchVia('node', args, at)];
      expect({ user, status: c.exitCode, err: text(c.stderr) }).toEqual({
        user,
        status: node.exitCode,
        err: text(node.stderr),
      });
      expect(text(node.stderr)).toContain('it is not mapped in the container (/etc/sub');
    }
  });

  it('runs for real in C: one id mapped, setgroups denied, what root may and may not do, the ids outside', async () => {
    const before = leakSnapshot();
    const script =
      'id; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; grep CapEff /proc/self/status; ' +
      'rm -f /tmp/made; touch /tmp/made && stat -c "made %u:%g" /tmp/made; ' +
      'chown 1:1 /tmp/made 2>/dev/null || echo "chown to an unmapped id: refused"; ' +
      'chown 0:0 /tmp/made && echo "chown to root: done"; ' +
      'mknod /tmp/null c 1 3 2>/dev/null || echo "mknod: refused"; exit 7';
    const args = none(dir.root, 'sh', '-c', script);
    const c = await hutchVia('c', args, at, IN_C);
    const node = await hutchVia('node', args, at);
    expect({ status: c.exitCode, err: text(c.stderr) }).toEqual({ status: 7, err: '' });
    expect(text(c.stdout)).toBe(text(node.stdout));
    const lines = text(c.stdout)
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual(
      expect.arrayContaining([
        `0 ${me.uid} 1`,
        `0 ${me.gid} 1`,
        'deny',
        'made 0:0',
        'chown to an unmapped id: refused',
        'chown to root: done',
        'mknod: refused',
      ]),
    );
    // Root inside is the user outside: what it made is the user's.
    const made = statSync(join(plain, 'tmp', 'made'));
    expect([made.uid, made.gid]).toEqual([me.uid, me.gid]);
    // The container's process, seen from the host while it runs.
    const seen = await containerOutside(
      none(dir.root, 'sh', '-c', 'trap "exit 3" TERM; echo up; while :; do sleep 0.1; done'),
      at,
    );
    seen.child.kill('SIGTERM');
    expect((await seen.child).exitCode).toBe(3);
    expect(seen.uids).toEqual([me.uid, me.uid, me.uid, me.uid]);
    expect(seen.gids).toEqual([me.gid, me.gid, me.gid, me.gid]);
    const left = ['ephemeral', 'net'].flatMap((d) =>
      existsSync(join(dir.root, 'run', d))
        ? readdirSync(join(dir.root, 'run', d)).filter((n) => /^[0-9a-f]{16,64}$/.test(n))
        : [],
    );
    expect(left).toEqual([]);
    await expectNoLeaks(before, [join(dir.root, 'run')]);
  });

  it('runs the default network (slirp4netns) in C for the user alone', async () => {
    const script = 'ip -4 -o addr show tap0 | cut -d" " -f2,7; ip route';
    const args = ['--root', dir.root, 'run', '--rootfs', plain, 'sh', '-c', script];
    const c = await hutchVia('c', args, at, IN_C);
    const node = await hutchVia('node', args, at);
    expect({ status: c.exitCode, err: text(c.stderr) }).toEqual({ status: 0, err: '' });
    expect(text(c.stdout)).toBe(text(node.stdout));
    expect(text(c.stdout)).toContain('tap0 10.0.2.100/24');
  });
});
