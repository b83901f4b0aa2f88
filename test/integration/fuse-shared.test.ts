// One union daemon serving several containers (issue 17; fuse/shared.ts, native/fs-holder.c,
// src/engine/setup/shared-union.ts): one daemon process for the containers of one user and id
// mapping, each container's mount and upper layer its own; its kill -9 ends every container it
// served; it leaves when the last container is removed (the suite's HUTCH_FS_LINGER=0,
// test/helpers/global-setup.ts) or a linger after it; two first runs at once start one.
// The leak check after each test says no process, mount or runtime file is left.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, utimesSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { rootMaps } from '../../src/userns/idmap.js';
import { readSubid } from '../../src/userns/subid.js';
import { fakeTool, firstOnPath } from '../helpers/fake-tool.js';
import { requires } from '../helpers/host.js';
import { hutch, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoContainerFolders, useImageSandbox } from '../helpers/frames.js';
import { processTree } from '../helpers/process-tree.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const IMAGE = 'localhost/itest';
useImageSandbox((b) => (box = b));
afterEach(async () => {
  expect(await daemonGone(), 'the shared daemon outlived its last container').toBe(true);
  expectNoContainerFolders(box.root);
});

const fsd = (root = box.root): string => join(root, 'run', 'fsd');

/** The pids of the shared daemons of the sandbox's store (their pid files). */
function daemons(root = box.root): number[] {
  return existsSync(fsd(root))
    ? readdirSync(fsd(root))
        .filter((n) => n.endsWith('.pid'))
        .map((n) => Number(readFileSync(join(fsd(root), n), 'utf8').trim()))
    : [];
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits (at most ~10 s) until no daemon is left: no pid file, no socket, no process. */
async function daemonGone(pids: number[] = daemons(), root = box.root): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const files = existsSync(fsd(root)) ? readdirSync(fsd(root)).filter((n) => !/\.(lock|log|log\.old)$/.test(n)) : [];
    if (files.length === 0 && !pids.some(alive)) return true;
    await sleep(50);
  }
  return false;
}

async function runDetached(script: string, env: Record<string, string> = {}): Promise<string> {
  const r = await hutch(['run', '-d', '--root', box.root, '--network', 'none', '-u', '0', IMAGE, 'sh', '-c', script], {
    env,
  });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

async function exec(id: string, script: string): Promise<string> {
  const r = await hutch(['exec', '--root', box.root, id, 'sh', '-c', script]);
  expect(r.stderr).toBe('');
  return r.stdout;
}

/** The container's holder (native/fs-holder.c), below its monitor. */
function holderOf(id: string): number {
  const state = JSON.parse(readFileSync(join(box.root, 'data', 'containers', id, 'state.json'), 'utf8')) as {
    monitorPid: number;
  };
  const holders = processTree(state.monitorPid).filter((p) => /hutch-fs-holder/.test(p.command));
  expect(holders).toHaveLength(1);
  return holders[0]!.pid;
}

async function stateOf(id: string): Promise<{ Status: string; Error?: string }> {
  const r = await hutch(['inspect', '--root', box.root, id]);
  return (JSON.parse(r.stdout) as { State: { Status: string; Error?: string } }[])[0]!.State;
}

describe('two containers of the same user and maps', () => {
  it('are served by one daemon, each its own mount and upper layer', async () => {
    const a = await runDetached('echo a > /tmp/mine; sleep 1000');
    const b = await runDetached('echo b > /tmp/mine; touch /only-b; sleep 1000');
    expect(daemons()).toHaveLength(1);
    const daemon = daemons()[0]!;
    expect(alive(daemon)).toBe(true);
    // Neither holder is a Node process, and the daemon is no container's process.
    for (const id of [a, b]) {
      const holder = holderOf(id);
      expect(readFileSync(`/proc/${holder}/mountinfo`, 'utf8')).toMatch(/ fuse\.hutch-fs /);
      expect(processTree(holder).map((p) => p.pid)).not.toContain(daemon);
    }
    for (let i = 0; i < 100 && (await exec(b, 'cat /tmp/mine 2>/dev/null')) !== 'b'; i++) await sleep(50);
    expect(await exec(a, 'cat /tmp/mine; ls /only-b 2>&1 || true')).toMatch(/^a\n.*No such file/);
    expect(await exec(b, 'cat /tmp/mine; ls /only-b')).toBe('b\n/only-b');
    expect(readFileSync(join(box.root, 'data', 'containers', a, 'upper', 'tmp', 'mine'), 'utf8')).toBe('a\n');
    expect(readFileSync(join(box.root, 'data', 'containers', b, 'upper', 'tmp', 'mine'), 'utf8')).toBe('b\n');

    // The daemon leaves with the last container, not before.
    expect((await hutch(['rm', '-f', '--root', box.root, a])).stderr).toBe('');
    await sleep(300);
    expect(alive(daemon)).toBe(true);
    expect(await exec(b, 'cat /tmp/mine')).toBe('b');
    expect((await hutch(['rm', '-f', '--root', box.root, b])).stderr).toBe('');
    expect(await daemonGone([daemon])).toBe(true);
  });

  it('kill -9 of the daemon ends both, each recorded stopped with the reason; rm leaves nothing', async () => {
    const ids = [await runDetached('sleep 1000'), await runDetached('sleep 1000')];
    expect(daemons()).toHaveLength(1);
    const daemon = daemons()[0]!;
    expect(daemon).toBeGreaterThan(1); // never kill(0)
    process.kill(daemon, 'SIGKILL');
    for (const id of ids) {
      let st = await stateOf(id);
      for (let i = 0; i < 200 && st.Status === 'running'; i++) {
        await sleep(50);
        st = await stateOf(id);
      }
      expect(st.Status).not.toBe('running');
      expect(st.Error).toContain('union filesystem daemon');
      // The holder, started by the monitor before go, says which daemon went, in the monitor's log.
      const log = readFileSync(join(box.root, 'data', 'containers', id, 'monitor.log'), 'utf8');
      expect(log).toContain(`hutch-fs: the union filesystem daemon (pid ${daemon}) serving `);
      expect((await hutch(['rm', '--root', box.root, id])).stderr).toBe('');
    }
    // A socket left by the killed daemon: the next run starts a new one over it.
    const next = await runDetached('sleep 1000');
    expect(daemons()).toHaveLength(1);
    expect(daemons()[0]).not.toBe(daemon);
    expect((await hutch(['rm', '-f', '--root', box.root, next])).stderr).toBe('');
  });

  it('two first runs at the same time start one daemon', async () => {
    expect(daemons()).toEqual([]);
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const env = { HUTCH_TRACE: file };
    const ids = await Promise.all([runDetached('sleep 1000', env), runDetached('sleep 1000', env)]);
    const steps = readFileSync(file, 'utf8').split('\n');
    expect(steps.filter((l) => l.endsWith(' shared spawn'))).toHaveLength(1);
    expect(steps.filter((l) => l.endsWith(' fs shared session'))).toHaveLength(2);
    expect(daemons()).toHaveLength(1);
    for (const id of ids) expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
  });

  it('a foreground run starts the daemon and its holder before its flags are parsed; the daemon leaves with the run', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const r = await hutch(['run', '--root', box.root, '--network', 'none', IMAGE, 'cat', '/data/keep'], {
      env: { HUTCH_TRACE: file },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('keep');
    const steps = readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split(' ').slice(2).join(' '));
    expect(steps.indexOf('shared spawn')).toBeLessThan(steps.indexOf('cli parsed'));
    // Its C holder was started before the parse too, and taken.
    expect(steps.indexOf('preheld spawn')).toBeLessThan(steps.indexOf('cli parsed'));
    expect(steps).toContain('preheld taken');
    expect(steps).not.toContain('holder spawn');
  });

  it("each mount's inode numbers are its own: a lower file numbered first in another container shares no st_ino with a new file", async () => {
    // a looks up (and so numbers) every file of the image; b then makes new files first, and each
    // file of b must have an st_ino no other file of b has (hard links aside: same file).
    const a = await runDetached('ls -liR / >/dev/null 2>&1; sleep 1000');
    for (let i = 0; i < 100 && (await exec(a, 'echo up')) !== 'up\n'; i++) await sleep(50);
    await exec(a, 'ls -liR /bin /etc /data >/dev/null');
    const b = await runDetached('sleep 1000');
    const listed = await exec(
      b,
      'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo $i > /tmp/new$i; done; ' +
        'find / -xdev ! -type d -exec stat -c "%i %h %n" {} +',
    );
    const byIno = new Map<string, string[]>();
    for (const line of listed.trim().split('\n')) {
      const [ino, links, name] = line.split(' ');
      if (links !== '1') continue; // hard links share their number
      byIno.set(ino!, [...(byIno.get(ino!) ?? []), name!]);
    }
    expect(listed).toContain('/tmp/new20');
    expect([...byIno.values()].filter((names) => names.length > 1)).toEqual([]);
    for (const id of [a, b]) expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
  });

  it('HUTCH_FS_SHARED=0: a daemon per container, as before', async () => {
    const id = await runDetached('sleep 1000', { HUTCH_FS_SHARED: '0' });
    expect(daemons()).toEqual([]);
    expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
  });
});

describe('the linger after the last container (HUTCH_FS_LINGER)', () => {
  // Long enough for the next run's CLI to connect on a loaded machine, short enough for daemonGone's ~10 s.
  const LINGER = { HUTCH_FS_LINGER: '4' };

  /** What the daemon has open or sits in under `root`'s store: nothing while it lingers. */
  function heldUnder(pid: number, root: string): string[] {
    const fds = readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return ''; // closed meanwhile
      }
    });
    return [readlinkSync(`/proc/${pid}/cwd`), ...fds].filter((p) => p.startsWith(join(root, 'data')));
  }

  it("stays after its last container holding nothing of it but the image's lower tree, serves the next runs, then leaves with its files", async () => {
    // A container killed with a file open (its layer's file, its upper directory the daemon's cwd).
    const trace = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const id = await runDetached('exec 3</data/keep; echo up > /tmp/up; sleep 1000', { ...LINGER, HUTCH_TRACE: trace });
    for (let i = 0; i < 100 && (await exec(id, 'cat /tmp/up 2>/dev/null')) !== 'up'; i++) await sleep(50);
    const [daemon] = daemons();
    expect(daemon).toBeGreaterThan(1);
    expect(heldUnder(daemon!, box.root).length).toBeGreaterThan(0); // its cwd and the open file
    expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
    // Lingering: the same process, nothing of the container held (bounded wait for its ENODEV).
    let held = heldUnder(daemon!, box.root);
    for (let i = 0; i < 100 && held.length > 0; i++) {
      await sleep(50);
      held = heldUnder(daemon!, box.root);
    }
    expect(held).toEqual([]);
    expect(alive(daemon!)).toBe(true);
    expect(daemons()).toEqual([daemon]);

    // The next run is served by it: no daemon started.
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const r = await hutch(['run', '--rm', '--root', box.root, '--network', 'none', IMAGE, 'cat', '/data/keep'], {
      env: { ...LINGER, HUTCH_TRACE: file },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('keep');
    expect(readFileSync(file, 'utf8')).not.toMatch(/ shared spawn$/m);
    expect(daemons()).toEqual([daemon]);
    // It took the image's lower tree it kept (fuse/lower-trees.ts). Once an index file is not the
    // one the tree was read from (here: its mtime), the next run's tree is read again.
    const kept = (): number => readFileSync(trace, 'utf8').split('fs shared lower tree kept, taken').length - 1;
    expect(kept()).toBe(1);
    const layers = join(box.root, 'data', 'layers', 'sha256');
    for (const layer of readdirSync(layers))
      utimesSync(join(layers, layer, 'index.hli'), new Date(), new Date(2000, 1, 1));
    const again = await hutch(['run', '--rm', '--root', box.root, '--network', 'none', IMAGE, 'cat', '/data/keep'], {
      env: LINGER,
    });
    expect([again.stderr, again.stdout]).toEqual(['', 'keep']);
    expect(daemons()).toEqual([daemon]);
    expect(kept()).toBe(1);
    // Then it leaves on its own, its socket and pid file gone (daemonGone: bounded, ~10 s).
    expect(await daemonGone([daemon!])).toBe(true);
    // It waited three times (after each last container), then left (its steps, in the first run's trace).
    const steps = readFileSync(trace, 'utf8')
      .split('\n')
      .map((l) => l.split(' ').slice(2).join(' '))
      .filter((l) => l.startsWith('fs shared'));
    expect(steps.filter((l) => l === 'fs shared linger')).toHaveLength(3);
    expect(steps.at(-1)).toBe('fs shared exit');
  });

  it('HUTCH_FS_LINGER=0: the daemon leaves with its last container, never lingering', async () => {
    // The daemon traces into the file of the run that started it: no linger step before its exit.
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const id = await runDetached('sleep 1000', { HUTCH_FS_LINGER: '0', HUTCH_TRACE: file });
    const [daemon] = daemons();
    expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
    expect(await daemonGone([daemon!])).toBe(true);
    const steps = readFileSync(file, 'utf8');
    expect(steps).toMatch(/ fs shared exit$/m);
    expect(steps).not.toMatch(/ fs shared linger$/m);
  });

  it('rmi while it lingers removes the image; system reset ends it before the store goes', async () => {
    // A store of its own: the reset takes the image this file's other tests use.
    const other = sandbox();
    try {
      const loaded = await hutch(['load', '--root', other.root, '-q', '-i', join(box.dir, 'fx', 'it.tar')]);
      expect(loaded.stderr).toBe('');
      const r = await hutch(['run', '--rm', '--root', other.root, '--network', 'none', IMAGE, 'true'], {
        env: { HUTCH_FS_LINGER: '600' },
      });
      expect(r.stderr).toBe('');
      const [daemon] = daemons(other.root);
      expect(alive(daemon!)).toBe(true);
      const rmi = await hutch(['rmi', '--root', other.root, IMAGE]);
      expect(rmi.stderr).toBe('');
      expect(alive(daemon!)).toBe(true);
      const reset = await hutch(['system', 'reset', '-f', '--root', other.root]);
      expect(reset.stderr).toBe('');
      // Ended, not left to its 600 s: the reset waited for its connection's end (its exit's fd close).
      for (let i = 0; i < 40 && alive(daemon!); i++) await sleep(50);
      expect(alive(daemon!)).toBe(false);
    } finally {
      other.remove();
    }
  });
});

describe('a run served by a daemon already running: its user namespace and maps are its own', () => {
  const me = userInfo();
  const owner = { name: me.username, id: me.uid };
  /** The run's default maps (no --userns/--uidmap/--gidmap), as /proc shows them: uid_map's lines, then gid_map's. */
  const runMaps = [...rootMaps(me.uid, readSubid('uid', owner)), ...rootMaps(me.gid, readSubid('gid', owner))].map(
    (m) => `${m.containerID} ${m.hostID} ${m.size}`,
  );
  const steps = (file: string): string[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split(' ').slice(2).join(' '));

  // The daemon's namespace is joined by no container: each run's holder is a new user namespace
  // the run maps itself (newuidmap and newgidmap in its helper), and its container joins that one.
  it("the container is in its holder's namespace, neither the daemon's nor another container's, with the run's maps", async () => {
    const other = await runDetached('sleep 1000'); // the daemon stays up while it runs
    const [daemon] = daemons();
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const r = await hutch(
      [
        'run',
        '--rm',
        '--root',
        box.root,
        '--network',
        'none',
        IMAGE,
        'sh',
        '-c',
        'readlink /proc/self/ns/user; cat /proc/self/uid_map /proc/self/gid_map',
      ],
      { env: { HUTCH_TRACE: file } },
    );
    expect(r.stderr).toBe('');
    expect(steps(file)).toContain('shared connected');
    expect(steps(file)).not.toContain('shared spawn'); // served by the running daemon
    const [ns, ...maps] = r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(ns).toMatch(/^user:\[\d+\]$/);
    expect(ns).not.toBe(readlinkSync(`/proc/${daemon}/ns/user`));
    expect(ns).not.toBe(readlinkSync(`/proc/${holderOf(other)}/ns/user`));
    expect(maps).toEqual(runMaps);
    expect(daemons()).toEqual([daemon]);
    expect((await hutch(['rm', '-f', '--root', box.root, other])).stderr).toBe('');
  });

  it("a map tool that fails fails the run with the tool's words, as with no daemon running; the daemon serves on", async () => {
    const LINGER = { HUTCH_FS_LINGER: '4' }; // warm as after `run --rm IMAGE true` by hand (default linger 60 s)
    const bin = fakeTool(
      join(box.dir, 'fake-bin'),
      'newuidmap',
      '#!/bin/sh\necho "newuidmap: write to uid_map failed: Operation not permitted (fake)" >&2\nexit 1\n',
    );
    const words =
      'hutch: cannot map uids with newuidmap: newuidmap: write to uid_map failed: Operation not permitted (fake)';
    const run = (env: Record<string, string>) =>
      hutch(['run', '--rm', '--root', box.root, '--network', 'none', IMAGE, 'true'], { env });
    expect((await run(LINGER)).stderr).toBe('');
    const [daemon] = daemons();
    expect(alive(daemon!)).toBe(true);

    const file = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const warm = await run({ ...LINGER, HUTCH_TRACE: file, PATH: firstOnPath(bin) });
    expect([warm.exitCode, warm.stderr.split('\n')[0]]).toEqual([125, words]);
    // Connected to the running daemon; the holder started before the parse failed at its map and
    // was taken so; the one the run then starts fails the same way; no union was mounted.
    const seen = steps(file);
    expect(seen).toContain('shared connected');
    expect(seen).not.toContain('shared spawn');
    expect(seen).not.toContain('preheld started');
    expect(seen.indexOf('holder spawn')).toBeGreaterThan(seen.indexOf('preheld taken'));
    expect(seen).not.toContain('holder started');
    expect(seen).not.toContain('union mounted');
    expect(daemons()).toEqual([daemon]);
    expect((await run(LINGER)).stderr).toBe(''); // the daemon still serves the next run
    expect(daemons()).toEqual([daemon]);

    // With no daemon running the daemon's own start maps first, and fails in the same words.
    expect(await daemonGone([daemon!])).toBe(true);
    const cold = join(mkdtempSync(join(tmpdir(), 'hutch-shared-')), 'trace');
    const first = await run({ HUTCH_TRACE: cold, PATH: firstOnPath(bin) });
    expect([first.exitCode, first.stderr.split('\n')[0]]).toEqual([125, words]);
    expect(steps(cold)).toContain('shared spawn');
    expect(steps(cold)).not.toContain('shared started');
  });
});

/** The daemon's fds on files of containers and layers (the files it reads and writes through). */
function keptFiles(daemon: number): number {
  return readdirSync(`/proc/${daemon}/fd`).filter((fd) => {
    try {
      const path = readlinkSync(`/proc/${daemon}/fd/${fd}`);
      return /\/data\/(containers|layers)\//.test(path) && statSync(`/proc/${daemon}/fd/${fd}`).isFile();
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

describe('the shared daemon at its limit', () => {
  it('refuses a union when too few fds are left under its RLIMIT_NOFILE, naming it and what to do; out of fds at its accept, it refuses in words; raised again, it takes the next', async () => {
    const a = await runDetached('echo a > /tmp/mine; sleep 1000');
    const [daemon] = daemons();
    // The daemon's soft limit set to what it holds now and 67 more (it keeps 64 + 4 a union free), the
    // files it keeps open to read and write them (fuse/nodefd.ts) not counted: it closes those when short.
    const limits = readFileSync(`/proc/${daemon}/limits`, 'utf8');
    const soft = /^Max open files\s+(\d+)/m.exec(limits)![1]!;
    const held = readdirSync(`/proc/${daemon}/fd`).length;
    const kept = keptFiles(daemon!);
    execFileSync('prlimit', ['--pid', String(daemon), `--nofile=${held - kept + 67}:`]);
    try {
      const r = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000']);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(`the shared union daemon (pid ${daemon}) serves 1 union and has`);
      expect(r.stderr).toContain('file descriptors left under its RLIMIT_NOFILE: raise the open files limit');
      expect(r.stderr).toContain('HUTCH_FS_SHARED=0');
      expect(alive(daemon!)).toBe(true);
      expect(await exec(a, 'cat /tmp/mine')).toBe('a');
    } finally {
      execFileSync('prlimit', ['--pid', String(daemon), `--nofile=${soft}:`]);
    }
    // No fd at all left: its accept fails EMFILE, and the spare fd it keeps takes the client to
    // refuse it in words, not a closed socket; the loop goes on (it does not spin on the backlog).
    execFileSync('prlimit', ['--pid', String(daemon), `--nofile=${readdirSync(`/proc/${daemon}/fd`).length}:`]);
    try {
      const r = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000']);
      expect(r.exitCode).not.toBe(0);
      // (Its count of what it has left needs an fd too: the words without the count.)
      expect(r.stderr).toContain(`the shared union daemon (pid ${daemon})`);
      expect(r.stderr).toContain('file descriptors under its RLIMIT_NOFILE: raise the open files limit');
      expect(r.stderr).toContain('HUTCH_FS_SHARED=0');
      expect(r.stderr).not.toContain('/dev/fuse');
      expect(alive(daemon!)).toBe(true);
    } finally {
      execFileSync('prlimit', ['--pid', String(daemon), `--nofile=${soft}:`]);
    }
    // (Meanwhile the first container's opens may fail EMFILE too: the daemon had no fd for them.)
    expect(await exec(a, 'cat /tmp/mine')).toBe('a');
    const b = await runDetached('echo b > /tmp/mine; sleep 1000');
    expect(await exec(b, 'cat /tmp/mine')).toBe('b');
    expect(daemons()).toEqual([daemon]);
    for (const id of [a, b]) expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
  });

  it('refuses the union past HUTCH_FS_SHARED_MAX to that one run, naming the limit and what to do; the others keep working', async () => {
    const env = { HUTCH_FS_SHARED_MAX: '2' };
    const a = await runDetached('echo a > /tmp/mine; sleep 1000', env);
    const b = await runDetached('echo b > /tmp/mine; sleep 1000', env);
    expect(daemons()).toHaveLength(1);
    const daemon = daemons()[0]!;
    const r = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000'], { env });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`the shared union daemon (pid ${daemon}) already serves 2 unions`);
    expect(r.stderr).toContain('HUTCH_FS_SHARED_MAX=2');
    expect(r.stderr).toContain('HUTCH_FS_SHARED=0');
    expect(r.stderr).not.toContain('/dev/fuse'); // not the generic hint of a failed mount
    expect(alive(daemon)).toBe(true);
    for (let i = 0; i < 100 && (await exec(b, 'cat /tmp/mine 2>/dev/null')) !== 'b'; i++) await sleep(50);
    expect(await exec(a, 'cat /tmp/mine')).toBe('a');
    expect(await exec(b, 'cat /tmp/mine; echo more >> /tmp/mine; cat /tmp/mine')).toBe('b\nb\nmore');
    // Once one is gone, the next run is taken again: once the daemon saw its mount go (ENODEV,
    // after rm returned), so a run refused meanwhile is tried again.
    expect((await hutch(['rm', '-f', '--root', box.root, a])).stderr).toBe('');
    const args = [
      'run',
      '-d',
      '--root',
      box.root,
      '--network',
      'none',
      '-u',
      '0',
      IMAGE,
      'sh',
      '-c',
      'echo c > /tmp/mine; sleep 1000',
    ];
    let again = await hutch(args, { env });
    for (let i = 0; i < 50 && again.stderr.includes('already serves 2 unions'); i++) {
      await sleep(100);
      again = await hutch(args, { env });
    }
    expect(again.stderr).toBe('');
    const c = again.stdout.trim();
    for (let i = 0; i < 100 && (await exec(c, 'cat /tmp/mine 2>/dev/null')) !== 'c'; i++) await sleep(50);
    expect(await exec(c, 'cat /tmp/mine')).toBe('c');
    expect(daemons()).toEqual([daemon]);
    for (const id of [b, c]) expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
  });
});
