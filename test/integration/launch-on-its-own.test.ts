// A launch on its own (ON_ITS_OWN, docs/wire.md): once the helper has its plan, it clones, has
// newuidmap and newgidmap write the maps and execs without this process, whose event loop may
// be held (the union's pre-started holder while the CLI parses, src/engine/setup/preheld-holder.ts).
// The child never goes on before both maps are written; a map tool that fails (or exits 0 having
// written no map) ends it with the tool's words, as in the sync protocol.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { launchInUserNamespace } from '../../src/engine/launch/userns-program.js';
import { spawnHelper } from '../../src/runtime/nsexec.js';
import type { HelperPlan } from '../../src/runtime/plan.js';
import { rootMaps } from '../../src/userns/idmap.js';
import { idMapTools, type IdMapTool } from '../../src/userns/newidmap.js';
import { readSubid } from '../../src/userns/subid.js';
import { fakeTool, firstOnPath } from '../helpers/fake-tool.js';
import { requires } from '../helpers/host.js';

beforeAll(() => requires('userns', 'subuid', 'newuidmap'));

const me = userInfo();
const owner = { name: me.username, id: me.uid };
const uidMappings = rootMaps(me.uid, readSubid('uid', owner));
const gidMappings = rootMaps(me.gid, readSubid('gid', owner));
const CLONE_NEWUSER = 0x10000000;

function ownPlan(args: string[], idMaps: IdMapTool[]): HelperPlan {
  return {
    cloneFlags: CLONE_NEWUSER,
    fs: [],
    readonlyRoot: false,
    loopback: false,
    rlimits: [],
    terminal: false,
    noNewPrivileges: false,
    args,
    env: ['PATH=/usr/bin:/bin'],
    init: false,
    parentDeathSignal: 9,
    idMaps,
    onItsOwn: true,
  };
}

/** Holds this process's event loop (no promise, no I/O callback runs) until `done` or 20 s. */
function holdLoopUntil(done: () => boolean): boolean {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2000; i++) {
    if (done()) return true;
    Atomics.wait(cell, 0, 0, 10);
  }
  return done();
}

/** Processes (not zombies) of the session `sid`: a detached helper's session holds it and its child. */
function sessionMembers(sid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return fields[0] !== 'Z' && Number(fields[3]) === sid;
      } catch {
        return false; // gone
      }
    })
    .map(Number);
}

it('maps and execs while the event loop is held; CLONED and READY are read after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hutch-own-'));
  const out = join(dir, 'maps');
  const tools = idMapTools(uidMappings, gidMappings, { uid: me.uid, gid: me.gid });
  expect(tools.map((t) => t.kind)).toEqual(['uid', 'gid']);
  const helper = await spawnHelper(
    ownPlan(
      ['/bin/sh', '-c', `cat /proc/self/uid_map /proc/self/gid_map > ${out}.new; mv ${out}.new ${out}; exit 7`],
      tools,
    ),
    ['ignore', 'ignore', 'ignore'],
  );
  // Nothing of this process runs meanwhile: no MAPPED, no GO, no read of the plan's socket.
  expect(holdLoopUntil(() => existsSync(out))).toBe(true);
  const maps = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));
  expect(maps).toContain(`0 ${me.uid} 1`);
  expect(maps).toContain(`0 ${me.gid} 1`);
  expect(maps.length).toBe(uidMappings.length + gidMappings.length);
  expect(await helper.cloned()).toBeGreaterThan(0);
  helper.mapped(); // nothing is sent on its own
  await helper.ready();
  await helper.go(); // fd 5's EOF: exec'd
  expect(await helper.exited()).toBe(7);
});

it('a map tool that fails ends the child before it runs anything, with the tool words', async () => {
  const dir = fakeTool(
    mkdtempSync(join(tmpdir(), 'hutch-own-')),
    'newuidmap',
    '#!/bin/sh\necho "newuidmap: uid range [0-1) -> [$3-$4) not allowed (fake)" >&2\nexit 1\n',
  );
  const fake = join(dir, 'newuidmap');
  const [, gid] = idMapTools(uidMappings, gidMappings, { uid: me.uid, gid: me.gid });
  const tools: IdMapTool[] = [{ kind: 'uid', tool: fake, args: ['0', String(me.uid), '1'] }, gid!];
  const ran = join(dir, 'ran');
  const helper = await spawnHelper(ownPlan(['/bin/sh', '-c', `touch ${ran}; sleep 600`], tools), [
    'ignore',
    'ignore',
    'ignore',
  ]);
  await expect(helper.cloned()).rejects.toMatchObject({
    step: 'id map',
    detail: expect.stringContaining('not allowed (fake)'),
  });
  expect(await helper.exited()).toBe(125);
  expect(existsSync(ran)).toBe(false);
  expect(holdLoopUntil(() => sessionMembers(helper.helperPid).length === 0)).toBe(true);
});

it('the helper refuses ON_ITS_OWN without both map tools, before it clones (a map hutch writes comes after CLONED)', async () => {
  const [uid] = idMapTools(uidMappings, gidMappings, { uid: me.uid, gid: me.gid });
  const helper = await spawnHelper(ownPlan(['/bin/true'], [uid!]), ['ignore', 'ignore', 'ignore']);
  await expect(helper.cloned()).rejects.toMatchObject({ step: 'parse plan', errno: 22 /* EINVAL */ });
  expect(await helper.exited()).toBe(125);
});

it('launchInUserNamespace on its own: a failing tool is the run-userns words (mapToolFailed), nothing left', async () => {
  const dir = fakeTool(
    mkdtempSync(join(tmpdir(), 'hutch-own-')),
    'newgidmap',
    '#!/bin/sh\necho "newgidmap: gid range not allowed (fake)" >&2\nexit 1\n',
  );
  const path = process.env.PATH;
  process.env.PATH = firstOnPath(dir); // idMapTools looks the tools up on PATH
  let spawned = false;
  try {
    await expect(
      launchInUserNamespace(
        { args: ['/bin/sh', '-c', 'sleep 600'], uidMappings, gidMappings, cwd: '/' },
        { stdio: ['ignore', 'ignore', 'ignore'], onItsOwn: true, spawned: () => (spawned = true) },
      ),
    ).rejects.toThrow(/^cannot map gids with newgidmap: newgidmap: gid range not allowed \(fake\)$/);
  } finally {
    process.env.PATH = path;
  }
  expect(spawned).toBe(true);
});

// A stand-in that says yes having done nothing would let the child go on unmapped, to fail at its
// setuid with EINVAL naming neither: the helper reads the map after the tool, in either protocol.
it.each([
  ['on its own', true],
  ['in the sync protocol', false],
])('a map tool that exits 0 having written no map fails the launch, naming it and the map (%s)', async (_, own) => {
  const dir = fakeTool(mkdtempSync(join(tmpdir(), 'hutch-own-')), 'newuidmap', '#!/bin/sh\nexit 0\n');
  const ran = join(dir, 'ran');
  const path = process.env.PATH;
  process.env.PATH = firstOnPath(dir); // idMapTools looks the tools up on PATH
  try {
    await expect(
      launchInUserNamespace(
        { args: ['/bin/sh', '-c', `touch ${ran}; sleep 600`], uidMappings, gidMappings, cwd: '/' },
        { stdio: ['ignore', 'ignore', 'ignore'], onItsOwn: own },
      ),
    ).rejects.toThrow(/^cannot map uids with newuidmap: it exited 0 but wrote no map: \/proc\/\d+\/uid_map is empty$/);
  } finally {
    process.env.PATH = path;
  }
  expect(existsSync(ran)).toBe(false);
});

it('a launch on its own with something between created and started is a bug, said before anything starts', async () => {
  await expect(
    launchInUserNamespace(
      { args: ['/bin/true'], uidMappings, gidMappings, cwd: '/' },
      { stdio: ['ignore', 'ignore', 'ignore'], onItsOwn: true, hooks: [async () => undefined] },
    ),
  ).rejects.toThrow(/a launch on its own has nothing between created and started/);
});
