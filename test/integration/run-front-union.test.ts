// The union of an image run through the shared daemon in C (native/run-front-union.c, which the C
// front's image runs call), driven alone by test/fixtures/union-front.c (helpers/union-front.ts):
// the place a TypeScript run takes, the helpers' plans and the daemon's line and environment, a
// cold daemon started and a warm one joined, the union a process joining the holder sees, the
// holder's end, the lock of two first runs, a daemon at its limit or that cannot start.
// The leak check after each test says no process, mount or runtime file is left.
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { daemonArgs } from '../../fuse/mount.js';
import { encodeArgsLine } from '../../fuse/options.js';
import { fakeTool, firstOnPath } from '../helpers/fake-tool.js';
import { useImageSandbox } from '../helpers/frames.js';
import { requires } from '../helpers/host.js';
import { hutch, HUTCH, REPO, type Sandbox } from '../helpers/hutch-cli.js';
import { alive, inHolder, useUnionFront, usernsPlan } from '../helpers/union-front.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
useImageSandbox((b) => (box = b));

const { fsd, daemons, daemonGone, layers, unionFront, planInC, mounted, withEnv } = useUnionFront(() => box, IMAGE);

/** The processes started as a shared daemon of a place in `dir` (their environment names it). */
function daemonsServing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`\0HUTCH_FS_SHARED_SOCKET=${dir}/`);
      } catch {
        return false; // gone, or not ours
      }
    })
    .map(Number);
}

describe('the place', () => {
  it('is the TypeScript path’s: a run in Node and a mount in C share one daemon', async () => {
    const place = await unionFront(['place']);
    expect(place.stderr).toBe('');
    const started = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000']);
    expect(started.stderr).toBe('');
    const names = readdirSync(fsd()).filter((n) => /^[0-9a-f]{16}$/.test(n));
    expect(names.map((n) => join(fsd(), n))).toEqual([place.stdout.trim()]);
    const [daemon] = daemons();
    const m = await mounted('c');
    expect(daemons()).toEqual([daemon]);
    expect(inHolder(m.holder, `cat ${m.dir}/merged/etc/passwd | head -1`)).toMatch(/^root:/);
    await m.stop();
    expect(alive(daemon!)).toBe(true); // the container still has it
    expect((await hutch(['rm', '-f', '--root', box.root, started.stdout.trim()])).stderr).toBe('');
  });
});

describe('the daemon', () => {
  it('has the environment a TypeScript run gives it (startDaemon, lingerSetting), a name given twice once', async () => {
    // Node's process.env lists a name given twice once, with its first value, and no array index's
    // ("10"): exactly these strings, as a batch system or a parent of its own may give them.
    const own = [
      'HUTCH_DEBUG=',
      'HUTCH_FS_LINGER=00',
      'HUTCH_FS_IDLE_MS=1234',
      'HUTCH_FS_SPIN_US=20',
      'HUTCH_FS_CHANNELS=2',
      'HUTCH_FS_OTHER=x',
      'TWICE=first',
    ];
    const again = ['10=an index', 'TWICE=second', 'HUTCH_FS_IDLE_MS=99', 'HUTCH_FS_LINGER=5'];
    const names = new Set([...own, ...again].map((e) => e.split('=')[0]));
    const inherited = Object.entries(process.env).filter(([k]) => !names.has(k));
    const env = [...inherited.map(([k, v]) => `${k}=${v}`), ...own, ...again];
    const [node, args, options] = withEnv(process.execPath, [HUTCH, 'run', '-d', '--root', box.root], env);
    const started = await execa(node, [...args, '--network', 'none', IMAGE, 'sleep', '1000'], {
      ...options,
      reject: false,
    });
    expect(started.stderr).toBe('');
    const environ = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').sort();
    const [inNode] = daemons();
    const fromNode = environ(inNode!);
    expect((await hutch(['rm', '-f', '--root', box.root, started.stdout.trim()])).stderr).toBe('');
    expect(await daemonGone([inNode!])).toBe(true);
    const m = await mounted('c', env);
    const [inC] = daemons();
    expect(inC).not.toBe(inNode);
    expect(environ(inC!)).toEqual(fromNode);
    expect(fromNode).toContain('HUTCH_FS_LINGER=0');
    expect(fromNode).toContain('HUTCH_FS_IDLE_MS=1234');
    expect(fromNode).toContain('HUTCH_FS_SPIN_US=20');
    expect(fromNode).toContain('HUTCH_FS_CHANNELS=2');
    expect(fromNode.filter((e) => e.startsWith('TWICE='))).toEqual(['TWICE=first']);
    expect(fromNode.some((e) => e.startsWith('HUTCH_FS_OTHER=') || e.startsWith('10='))).toBe(false);
    await m.stop();
  });
});

describe('the daemon’s plan', () => {
  it('is the TypeScript path’s, byte for byte (startDaemon), its environment included', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'hutch-cc-'));
    const env = {
      PATH: process.env.PATH!,
      HOME: '/nowhere',
      HUTCH_FAULT: 'x',
      HUTCH_FS_PAGES: '0',
      HUTCH_CODE_CACHE_DIR: cache,
    };
    // environ's strings: a name given twice (in its first place, with its first value), an index's, none
    const environ = [
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      'HOME=/again',
      '0=an index',
      'NOTHING',
      '=empty',
      'HUTCH_FS_PAGES=1',
      'PATH=/again',
    ];
    const inC = await planInC(['daemon-plan'], environ);
    const socket = (await unionFront(['place'])).stdout.trim();
    const args = [realpathSync(process.execPath), join(REPO, 'dist', 'src', 'cli', 'bundle-loader.cjs'), 'fuseDaemon'];
    const daemonEnv = [`PATH=${env.PATH}`, 'HOME=/nowhere', 'HUTCH_FS_PAGES=0', `HUTCH_CODE_CACHE_DIR=${cache}`];
    const own = [
      'HUTCH_FS_READY_FD=1',
      `HUTCH_FS_SHARED_SOCKET=${socket}`,
      `HUTCH_FS_SHARED_LOCK=${socket}.lock`,
      'HUTCH_FS_LINGER=60',
    ];
    expect(inC).toEqual(usernsPlan({ args, env: [...daemonEnv, ...own] }, { detach: true }));
    rmSync(cache, { recursive: true });
  });
});

describe('the holder’s plans', () => {
  it('are the TypeScript path’s, byte for byte (launchInUserNamespace), waiting for its line and given it', async () => {
    const holder = join(REPO, 'native', 'hutch-fs-holder');
    const inNode = (args: string[], onItsOwn: boolean): Buffer => usernsPlan({ args, env: [] }, { onItsOwn });
    const inC = (arg: string): Promise<Buffer> => planInC(['holder-plan', arg]);
    // preheld-holder.ts's (on its own: the test user's tools write both maps), and startSharedHolder's.
    expect(await inC('-')).toEqual(inNode([holder, '-'], true));
    expect(await inC(join(box.dir, 'x', '..', 'm'))).toEqual(
      inNode([holder, join(box.dir, 'm'), 'hutch-fs', 'nosuid,nodev'], false),
    );
  });
});

describe('the daemon’s line', () => {
  it('is the TypeScript path’s, byte for byte (daemonArgs, encodeArgsLine), odd paths escaped', async () => {
    const dir = join(box.dir, 'odd "dir"\\ with: commas, and \u00e9');
    const layers = [join(box.dir, 'l:1'), join(box.dir, 'l,1.idx'), join(box.dir, 'l\\2'), join(box.dir, 'l2\n.idx')];
    const r = await unionFront(['line', dir, ...layers]);
    expect(r.stderr).toBe('');
    const lowers = [
      { dir: layers[0]!, indexFile: layers[1]! },
      { dir: layers[2]!, indexFile: layers[3]! },
    ];
    const spec = { lowers, upper: join(dir, 'upper'), work: join(dir, 'work'), mountpoint: join(dir, 'merged') };
    // The test user has subordinate ranges: more than one uid mapped, no overrideonly.
    expect(r.stdout).toBe(encodeArgsLine({ args: daemonArgs({ ...spec, uidMapped: false, squashToRoot: false }) }));
  });
});

describe('a mount', () => {
  it('cold, starts one daemon; warm, joins it; each its own upper layer; the stop leaves nothing', async () => {
    expect(daemons()).toEqual([]);
    const a = await mounted('a');
    const [daemon] = daemons();
    expect(alive(daemon!)).toBe(true);
    // b's mountpoint has a tab: no line for a holder started early (fs-holder.c splits it at tabs),
    // the holder started with the connection instead.
    const b = await mounted('b\tb');
    expect(daemons()).toEqual([daemon]);
    expect(readFileSync(`/proc/${a.holder}/cmdline`, 'utf8').split('\0')).toEqual([
      expect.stringMatching(/hutch-fs-holder$/),
      '-',
      '',
    ]);
    expect(readFileSync(`/proc/${b.holder}/cmdline`, 'utf8')).toContain(`${b.dir}/merged`);
    expect(inHolder(a.holder, `echo a > ${a.dir}/merged/tmp/mine; ls ${a.dir}/merged/bin/busybox`)).toContain(
      'busybox',
    );
    expect(inHolder(b.holder, `cat '${b.dir}/merged/tmp/mine' 2>&1; ls '${b.dir}/merged/bin/busybox'`)).toMatch(
      /No such file.*\n.*busybox\n$/,
    );
    expect(readFileSync(join(a.dir, 'upper', 'tmp', 'mine'), 'utf8')).toBe('a\n');
    expect(readFileSync(`/proc/${a.holder}/mountinfo`, 'utf8')).toMatch(/ fuse\.hutch-fs /);
    await a.stop();
    expect(alive(a.holder)).toBe(false);
    expect(alive(daemon!)).toBe(true); // b's
    await b.stop();
    expect(await daemonGone([daemon!])).toBe(true); // HUTCH_FS_LINGER=0 (the suite's): it leaves with the last
  });

  it('lingers as HUTCH_FS_LINGER says, for the next mount', async () => {
    const a = await mounted('a', { HUTCH_FS_LINGER: '2' });
    const [daemon] = daemons();
    await a.stop();
    await sleep(300);
    expect(daemons()).toEqual([daemon]);
    const b = await mounted('b');
    expect(daemons()).toEqual([daemon]);
    await b.stop();
    expect(await daemonGone([daemon!])).toBe(true);
  });

  it('mounts in the holder union_holder_early gave, which exists before the mount', async () => {
    const a = await mounted('a', {}, 'mount-early');
    expect(a.early).toBe(a.holder);
    expect(inHolder(a.holder, `ls ${a.dir}/merged/bin/busybox`)).toContain('busybox');
    await a.stop();
    // Its namespaces given, no other holder may take its place: a line it cannot take fails.
    const dir = join(box.dir, 'b\tb');
    mkdirSync(dir, { recursive: true });
    const r = await unionFront(['mount-early', dir, ...layers()]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("cannot give the union's holder its line: a path holds a tab or a newline");
  });

  it('says the daemon’s death as the TypeScript path does (its holder saw it go), then stops nothing', async () => {
    const a = await mounted('a');
    expect(await a.died()).toBe('serving');
    const [daemon] = daemons();
    expect(daemon).toBeGreaterThan(1); // never kill(0)
    process.kill(daemon!, 'SIGKILL');
    let said = await a.died();
    for (let i = 0; i < 200 && said === 'serving'; i++) said = await a.died();
    // Either word of rootfsOf's: the holder's end read, or the daemon seen gone first (served()).
    expect([
      `the union filesystem daemon ended (the container's holder, pid ${a.holder}, saw it go)`,
      'the union filesystem daemon ended while the container ran',
    ]).toContain(said);
    // Once the holder's helper has ended too (it follows the holder by a moment), its end is read:
    // once (union_died then forgets the holder), so only until it was.
    const holderSaw = `the union filesystem daemon ended (the container's holder, pid ${a.holder}, saw it go)`;
    for (let i = 0; i < 200 && said !== holderSaw; i++) {
      await sleep(10);
      said = await a.died();
    }
    expect(said).toBe(holderSaw);
    await a.stop(
      new RegExp(`^hutch-fs: the union filesystem daemon \\(pid ${daemon}\\) serving ${a.dir}/merged ended`),
    );
    // The killed daemon's socket and pid file are left: the next mount starts a new one over them.
    const b = await mounted('b');
    expect(daemons()).toHaveLength(1);
    expect(daemons()[0]).not.toBe(daemon);
    await b.stop();
  });

  it('two cold at once start one daemon (the lock)', async () => {
    const [a, b] = await Promise.all([mounted('a'), mounted('b')]);
    expect(daemonsServing(fsd())).toEqual(daemons());
    expect(daemons()).toHaveLength(1);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('a daemon at its limit says so in its own words, and the holder ends', async () => {
    const a = await mounted('a', { HUTCH_FS_SHARED_MAX: '1' });
    const dir = join(box.dir, 'b');
    mkdirSync(dir, { recursive: true });
    const r = await unionFront(['mount', dir, ...layers()]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /failed: cannot mount the union filesystem: cannot mount .*: the shared union daemon \(pid \d+\) already /,
    );
    expect(r.stderr).toContain('HUTCH_FS_SHARED_MAX=1');
    expect(r.stderr).not.toContain('hint: check /dev/fuse');
    await a.stop();
  });

  it('a daemon that cannot start names its log', async () => {
    const bin = fakeTool(join(box.dir, 'bad-node'), 'node', '#!/bin/sh\necho "no node here" >&2\nexit 3\n');
    const dir = join(box.dir, 'bad');
    mkdirSync(dir, { recursive: true });
    const r = await unionFront(['mount', dir, ...layers()], { PATH: firstOnPath(bin) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('cannot start the shared union filesystem daemon: it exited');
    const log = /hint: see its log (\S+);/.exec(r.stderr)?.[1] ?? '';
    expect(log.startsWith(`${fsd()}/`)).toBe(true);
    expect(readFileSync(log, 'utf8')).toContain('no node here');
  });
});
