// `hutch run --rootfs` through the C front (native/hutch-run-front) for a user whose /etc/subuid
// and /etc/subgid list two overlapping ranges (runs as `hutchoverlap`, made by
// scripts/prepare-host.sh): the front merges them as subid.ts mergeRanges does and lays them out
// as idmap.ts rootMaps, so its plan, its maps and the container's ids outside are the TypeScript
// path's (run-front.test.ts compares the paths for a user with one range).
import { mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeRanges, parseSubid, type SubidRange } from '../../src/userns/subid.js';
import { requires } from '../helpers/host.js';
import { sandbox as scratch, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot } from '../helpers/leaks.js';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { containerOutside, hutchVia, IN_C, noNetworkRun, normalized, text } from '../helpers/run-front.js';

const me = userInfo();
const listed = (kind: 'uid' | 'gid'): SubidRange[] =>
  parseSubid(readFileSync(`/etc/sub${kind}`, 'utf8'), { name: me.username, id: me.uid });
const norm = (out: Uint8Array): string[] =>
  text(out)
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));

// npm test runs this file as the user with overlapping ranges (HUTCH_TEST_OVERLAP_USER); others skip it.
describe.skipIf(me.username !== process.env.HUTCH_TEST_OVERLAP_USER)('the C front with two overlapping ranges', () => {
  let dir: Sandbox;
  let at: { cwd: string; home: string };
  let plain: string;
  let uids: SubidRange;
  let gids: SubidRange;
  beforeAll(async () => {
    requires('userns', 'busybox', 'newuidmap');
    for (const kind of ['uid', 'gid'] as const) {
      const [a, b] = listed(kind);
      if (listed(kind).length !== 2 || !(b!.start <= a!.start + a!.count))
        throw new Error(`${me.username} needs two overlapping /etc/sub${kind} ranges (scripts/prepare-host.sh)`);
    }
    [uids] = mergeRanges(listed('uid')) as [SubidRange];
    [gids] = mergeRanges(listed('gid')) as [SubidRange];
    dir = scratch();
    at = { cwd: dir.dir, home: join(dir.dir, 'home') };
    mkdirSync(at.home);
    plain = await busyboxRootfs(join(dir.dir, 'plain'));
  });
  afterAll(() => dir.remove());
  const none = (...rest: string[]): string[] => noNetworkRun(dir.root, plain, ...rest);

  it('makes the plan the TypeScript path makes: the merged range after the user', async () => {
    const last = String(uids.count); // the last container id: past the end of either listed range alone
    for (const user of [undefined, '4000', `${last}:${last}`, `${last}:0`]) {
      const args = none(...(user === undefined ? [] : ['-u', user]), 'true');
      const env = { HUTCH_RUN_PRINT_PLAN: '1' };
      const node = await hutchVia('node', args, at, env);
      const c = await hutchVia('c', args, at, { ...env, ...IN_C });
      expect({ user, status: node.exitCode, err: text(node.stderr) }).toEqual({ user, status: 0, err: '' });
      expect({ user, status: c.exitCode, err: text(c.stderr) }).toEqual({ user, status: 0, err: '' });
      expect(normalized(c.stdout), user).toBe(normalized(node.stdout));
      expect(normalized(c.stdout)).toContain(`0 ${me.uid} 1 1 ${uids.start} ${uids.count}\0`);
      expect(normalized(c.stdout)).toContain(`0 ${me.gid} 1 1 ${gids.start} ${gids.count}\0`);
    }
  });

  it('hands a user past the merged range over: the TypeScript path says why', async () => {
    const args = none('-u', String(uids.count + 1), 'true');
    const proof = await hutchVia('c', args, at, IN_C);
    expect(proof.exitCode).toBe(99);
    expect(text(proof.stderr)).toContain("the container's user is not mapped");
    const [c, node] = [await hutchVia('c', args, at), await hutchVia('node', args, at)];
    expect({ status: c.exitCode, err: text(c.stderr) }).toEqual({ status: node.exitCode, err: text(node.stderr) });
    expect(text(node.stderr)).toContain(`gives ${uids.count} ids`);
  });

  it('runs for real in C: the merged maps, and the ids outside of a user in the second range', async () => {
    const before = leakSnapshot();
    const script = 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map';
    const last = uids.count;
    for (const user of [[], ['-u', `${last}:${gids.count}`]]) {
      const args = none(...user, 'sh', '-c', script);
      const c = await hutchVia('c', args, at, IN_C);
      const node = await hutchVia('node', args, at);
      expect({ user, status: c.exitCode, err: text(c.stderr) }).toEqual({ user, status: 0, err: '' });
      expect(text(c.stdout)).toBe(text(node.stdout));
      expect(norm(c.stdout).slice(2)).toEqual([
        `0 ${me.uid} 1`,
        `1 ${uids.start} ${uids.count}`,
        `0 ${me.gid} 1`,
        `1 ${gids.start} ${gids.count}`,
      ]);
    }
    // Container uid LAST is host uid start + LAST - 1: in the second listed range alone.
    const seen = await containerOutside(
      none('-u', `${last}:${gids.count}`, 'sh', '-c', 'trap "exit 3" TERM; echo up; while :; do sleep 0.1; done'),
      at,
    );
    seen.child.kill('SIGTERM');
    expect((await seen.child).exitCode).toBe(3);
    const hostUid = uids.start + last - 1;
    const hostGid = gids.start + gids.count - 1;
    const [first] = [...listed('uid')].sort((a, b) => a.start - b.start);
    expect(hostUid).toBeGreaterThanOrEqual(first!.start + first!.count);
    expect(seen.uids).toEqual([hostUid, hostUid, hostUid, hostUid]);
    expect(seen.gids).toEqual([hostGid, hostGid, hostGid, hostGid]);
    await expectNoLeaks(before, [join(dir.root, 'run')]);
  });
});
