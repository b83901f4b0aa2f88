// The union of an image run through the shared daemon in C (native/run-front-union.c, which the C
// front's image runs call), driven alone by test/fixtures/union-front.c: the place a TypeScript
// run takes, a cold daemon started and a warm one joined, the union a process joining the holder
// sees, the holder's end, the lock of two first runs, a daemon that cannot start.
// The leak check after each test says no process, mount or runtime file is left.
import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { daemonArgs } from '../../fuse/mount.js';
import { encodeArgsLine } from '../../fuse/options.js';
import { launchPlan } from '../../src/engine/launch/launch.js';
import { usernsProgramSpec } from '../../src/engine/launch/userns-program.js';
import { encodePlan } from '../../src/runtime/nsexec.js';
import { rootMaps } from '../../src/userns/idmap.js';
import { readSubid } from '../../src/userns/subid.js';
import { fakeTool, firstOnPath } from '../helpers/fake-tool.js';
import { requires } from '../helpers/host.js';
import { hutch, REPO, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoContainerFolders, useImageSandbox } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
useImageSandbox((b) => (box = b));

let program: string;
beforeAll(() => {
  program = join(mkdtempSync(join(tmpdir(), 'hutch-union-front-')), 'union-front');
  const native = (f: string): string => join(REPO, 'native', f);
  const files = ['run-front-union.c', 'run-front-conf.c', 'run-front-plan.c', 'front-util.c', 'front-helper.c'];
  execFileSync('cc', [
    ...['-O2', '-Wall', '-Wextra', '-Werror', '-std=gnu11', '-D_GNU_SOURCE', '-I', join(REPO, 'native')],
    ...['-o', program, join(REPO, 'test', 'fixtures', 'union-front.c'), ...files.map(native), '-ldl'],
  ]);
});

afterEach(async () => {
  expect(await daemonGone(), 'the shared daemon outlived its last mount').toBe(true);
  expectNoContainerFolders(box.root);
});

const run = (): string => join(box.root, 'run');
const fsd = (): string => join(run(), 'fsd');

/** The pids of the shared daemons of the sandbox's store (their pid files). */
function daemons(): number[] {
  return existsSync(fsd())
    ? readdirSync(fsd())
        .filter((n) => n.endsWith('.pid'))
        .map((n) => Number(readFileSync(join(fsd(), n), 'utf8').trim()))
    : [];
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

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

/** Waits (at most ~10 s) until no daemon is left: no pid file, no socket, no process. */
async function daemonGone(pids: number[] = daemons()): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const files = existsSync(fsd()) ? readdirSync(fsd()).filter((n) => !/\.(lock|log|log\.old)$/.test(n)) : [];
    if (files.length === 0 && !pids.some(alive)) return true;
    await sleep(50);
  }
  return false;
}

/** The image's layers, top first, each with its index (the store's layout). */
function layers(): string[] {
  const inspect = JSON.parse(
    execFileSync(process.execPath, [join(REPO, 'bin', 'hutch'), 'image', 'inspect', '--root', box.root, IMAGE], {
      encoding: 'utf8',
    }),
  ) as {
    RootFS: { Layers: string[] };
  }[];
  return [...inspect[0]!.RootFS.Layers].reverse().flatMap((diffId) => {
    const dir = join(box.root, 'data', 'layers', 'sha256', diffId.replace('sha256:', ''));
    return [join(dir, 'root'), join(dir, 'index.hli')];
  });
}

/** union-front ARGS with the test's environment and PATH (`env` over it). */
function unionFront(args: string[], env: Record<string, string> = {}) {
  return execa(program, [REPO, run(), ...args], { reject: false, env, stdin: 'pipe', stripFinalNewline: false });
}

/** A mount held by union-front until `stop()`: its holder and begin-to-mounted time. */
async function mounted(name: string, env: Record<string, string> = {}, how = 'mount') {
  const dir = join(box.dir, name);
  mkdirSync(dir, { recursive: true });
  const child = unionFront([how, dir, ...layers()], env);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()).includes('\n') && resolve(out));
    void child.then((r) => reject(new Error(`union-front ended: ${r.stderr}`)));
  });
  const [, holder, ms, early] = /^mounted (\d+) ([\d.]+) (\d+)/.exec(line) ?? [];
  expect(holder, line).toBeDefined();
  return {
    dir,
    holder: Number(holder),
    early: Number(early),
    ms: Number(ms),
    stop: async () => {
      child.stdin!.end('\n');
      const r = await child;
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('stopped');
    },
  };
}

/** `script` run by sh in the holder's user and mount namespaces (as the container's helper joins them). */
function inHolder(holder: number, script: string): string {
  return execFileSync('nsenter', ['-t', String(holder), '-U', '-m', '--preserve-credentials', 'sh', '-c', script], {
    encoding: 'utf8',
  });
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
  it('has the environment a TypeScript run gives it (startDaemon, lingerSetting)', async () => {
    const env = { HUTCH_DEBUG: '', HUTCH_FS_LINGER: '00', HUTCH_FS_IDLE_MS: '1234', HUTCH_FS_OTHER: 'x' };
    const started = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000'], {
      env,
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
    expect(fromNode.some((e) => e.startsWith('HUTCH_FS_OTHER='))).toBe(false);
    await m.stop();
  });
});

/** The plan launchInUserNamespace makes for `program` with the test user's default maps (idMaps 'auto'). */
function plan(program: { args: string[]; env: string[] }, options: { onItsOwn?: boolean; detach?: boolean }): Buffer {
  const me = userInfo();
  const owner = { name: me.username, id: me.uid };
  const maps = {
    uidMappings: rootMaps(me.uid, readSubid('uid', owner)),
    gidMappings: rootMaps(me.gid, readSubid('gid', owner)),
  };
  return encodePlan(launchPlan(usernsProgramSpec({ ...program, cwd: '/', ...maps }), options).plan).bytes;
}

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
    const r = await execa(program, [REPO, run(), 'daemon-plan'], { encoding: 'buffer', env, extendEnv: false });
    const socket = (await unionFront(['place'])).stdout.trim();
    const args = [realpathSync(process.execPath), join(REPO, 'dist', 'src', 'cli', 'bundle-loader.cjs'), 'fuseDaemon'];
    const daemonEnv = [`PATH=${env.PATH}`, 'HOME=/nowhere', 'HUTCH_FS_PAGES=0', `HUTCH_CODE_CACHE_DIR=${cache}`];
    const own = [
      'HUTCH_FS_READY_FD=1',
      `HUTCH_FS_SHARED_SOCKET=${socket}`,
      `HUTCH_FS_SHARED_LOCK=${socket}.lock`,
      'HUTCH_FS_LINGER=60',
    ];
    expect(Buffer.from(r.stdout)).toEqual(plan({ args, env: [...daemonEnv, ...own] }, { detach: true }));
    rmSync(cache, { recursive: true });
  });
});

describe('the holder’s plans', () => {
  it('are the TypeScript path’s, byte for byte (launchInUserNamespace), waiting for its line and given it', async () => {
    const holder = join(REPO, 'native', 'hutch-fs-holder');
    const inNode = (args: string[], onItsOwn: boolean): Buffer => plan({ args, env: [] }, { onItsOwn });
    const inC = async (arg: string): Promise<Buffer> =>
      Buffer.from(
        (await execa(program, [REPO, run(), 'holder-plan', arg], { encoding: 'buffer', stripFinalNewline: false }))
          .stdout,
      );
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
