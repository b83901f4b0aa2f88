// User namespace modes: keep-id, explicit maps, and the two-stage path (a program inside the user
// namespace launching containers into it, as the union filesystem's monitor does).
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { launchInUserNamespace } from '../../src/engine/launch/userns-program.js';
import { rootMaps } from '../../src/userns/idmap.js';
import { readSubid } from '../../src/userns/subid.js';
import { requires } from '../helpers/host.js';
import { REPO } from '../helpers/hutch-cli.js';
import { containerTest } from '../helpers/container-test.js';

const t = containerTest();
const me = userInfo();
const sh = (args: string[], script: string) => t.sh(script, args);

beforeAll(() => requires('userns', 'subuid', 'newuidmap', 'busybox'));

it("--userns=keep-id runs as the user's own ids, with root and the range still mapped", async () => {
  const r = await sh(['--userns=keep-id'], 'id -u; id -g; cat /proc/self/uid_map');
  expect(r.stderr).toBe('');
  const [uid, gid, ...map] = String(r.stdout).split('\n');
  expect([uid, gid]).toEqual([String(me.uid), String(me.gid)]);
  expect(map.map((l) => l.trim().split(/\s+/).join(' '))).toContain(`${me.uid} ${me.uid} 1`);
  const root = await sh(['--userns=keep-id', '-u', '0'], 'id -u');
  expect(String(root.stdout)).toBe('0');
});

it('--uidmap/--gidmap give explicit maps', async () => {
  const start = readSubid('uid', { name: me.username, id: me.uid })[0]!.start;
  const r = await sh(
    ['--uidmap', `0:${me.uid}:1`, '--uidmap', `1:${start}:1000`],
    'cat /proc/self/uid_map; cat /proc/self/gid_map',
  );
  expect(
    String(r.stdout)
      .split('\n')
      .map((l) => l.trim().split(/\s+/).join(' ')),
  ).toEqual([`0 ${me.uid} 1`, `1 ${start} 1000`, `0 ${me.gid} 1`, `1 ${start} 1000`]);
  const bad = await sh(['--uidmap', '0:1:2:3'], 'true');
  expect(bad.exitCode).toBe(125);
  expect(bad.stderr).toContain('invalid --uidmap 0:1:2:3: expected CONTAINER:HOST:SIZE');
});

it('a map the host refuses names its side (newgidmap), not the other, which was written', async () => {
  const start = readSubid('gid', { name: me.username, id: me.uid })[0]!.start;
  const r = await sh(
    ['--uidmap', `0:${me.uid}:1`, '--gidmap', `0:${me.gid}:1`, '--gidmap', `1:${start + 100_000_000}:10`],
    'true',
  );
  expect(r.exitCode).toBe(125);
  expect(r.stderr).toMatch(/^hutch: cannot map gids with newgidmap: .+/);
  expect(r.stderr).not.toContain('newuidmap');
});

it('two stages: a Node program in a new user namespace launches a container into it', async () => {
  mkdirSync(join(t.rootfs, 'mnt'));
  const out = join(t.box.dir, 'monitor.out');
  const fd = openSync(out, 'w');
  const uidMappings = rootMaps(me.uid, readSubid('uid', { name: me.username, id: me.uid }));
  const gidMappings = rootMaps(me.gid, readSubid('gid', { name: me.username, id: me.uid }));
  try {
    const monitor = await launchInUserNamespace(
      {
        args: [process.execPath, join(REPO, 'test/fixtures/two-stage-monitor.mjs'), REPO, t.rootfs],
        uidMappings,
        gidMappings,
      },
      { stdio: ['ignore', fd, fd] },
    );
    expect((await monitor.wait()).exitCode).toBe(0);
  } finally {
    closeSync(fd);
  }
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));
  // The container shares the monitor's user namespace: the same maps, not a nested one.
  expect(lines).toEqual([
    'monitor uid=0',
    `0 ${me.uid} 1`,
    `1 ${uidMappings[1]!.hostID} 65536`,
    'seen',
    'pid=1',
    'container exit=5',
  ]);
});
