// hutch run for a user whose /etc/subuid and /etc/subgid list two overlapping ranges (runs as
// `hutchoverlap`, made by scripts/prepare-host.sh): useradd's automatic range plus an admin's
// `usermod --add-subuids`. The ranges are merged into one; newuidmap accepts the merged map.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch } from '../helpers/hutch-cli.js';
import { containerTest } from '../helpers/container-test.js';
import { mergeRanges, parseSubid } from '../../src/userns/subid.js';

const t = containerTest();
const me = userInfo();
const listed = (kind: 'uid' | 'gid') =>
  parseSubid(readFileSync(`/etc/sub${kind}`, 'utf8'), { name: me.username, id: me.uid });
const norm = (text: unknown): string[] =>
  String(text)
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));

// npm test runs this file as the user with overlapping ranges (HUTCH_TEST_OVERLAP_USER); others skip it.
describe.skipIf(me.username !== process.env.HUTCH_TEST_OVERLAP_USER)('with two overlapping subuid ranges', () => {
  beforeAll(() => {
    requires('userns', 'busybox', 'newuidmap');
    for (const kind of ['uid', 'gid'] as const) {
      const [a, b] = listed(kind);
      if (listed(kind).length !== 2 || !(b!.start < a!.start + a!.count))
        throw new Error(`${me.username} needs two overlapping /etc/sub${kind} ranges (scripts/prepare-host.sh)`);
    }
  });

  it('runs a container with the merged range mapped, a user beyond the first range included', async () => {
    const [merged] = mergeRanges(listed('uid'));
    const [mergedGid] = mergeRanges(listed('gid'));
    // The last container uid the merged range gives: past the end of either listed range alone.
    const last = merged!.count;
    const r = await t.sh('cat /proc/self/uid_map /proc/self/gid_map');
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(norm(r.stdout)).toEqual([
      `0 ${me.uid} 1`,
      `1 ${merged!.start} ${merged!.count}`,
      `0 ${me.gid} 1`,
      `1 ${mergedGid!.start} ${mergedGid!.count}`,
    ]);
    const high = await t.sh('id -u; id -g', ['-u', `${last}:${last}`]);
    expect(high.exitCode).toBe(0);
    expect(norm(high.stdout)).toEqual([String(last), String(last)]);
  });

  it('hutch system info says ok and names what it merged', async () => {
    const r = await hutch(['system', 'info', '--format', 'json']);
    const info = JSON.parse(String(r.stdout)) as { checks: { name: string; ok: boolean; detail: string }[] };
    const [merged] = mergeRanges(listed('uid'));
    const [a, b] = listed('uid');
    const check = info.checks.find((c) => c.name === '/etc/subuid range')!;
    expect(check.ok).toBe(true);
    expect(check.detail).toBe(
      `${merged!.start}-${merged!.start + merged!.count - 1} (merged from 2 overlapping or adjacent ranges: ${a!.start}-${a!.start + a!.count - 1}, ${b!.start}-${b!.start + b!.count - 1})`,
    );
  });
});
