// The union's holder started before `hutch run`'s flags are parsed (src/engine/setup/preheld-holder.ts),
// with a union daemon per container (HUTCH_FS_SHARED=0; the shared daemon's early start is in
// fuse-shared.test.ts):
// taken when the run's id maps are the default ones, ended (and waited for) otherwise, started by
// no run that surely needs none; its daemon, waiting for its arguments, touches nothing until they
// come. What happened is read in the run's HUTCH_TRACE steps (docs/startup.md); the leak check
// after each test says no process or mount is left.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeTool, firstOnPath } from '../helpers/fake-tool.js';
import { requires } from '../helpers/host.js';
import { hutch, REPO, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoContainerFolders, useImageSandbox } from '../helpers/frames.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox');

let box: Sandbox;
const PER_CONTAINER = { HUTCH_FS_SHARED: '0' };
const IMAGE = 'localhost/itest';
useImageSandbox((b) => (box = b));
afterEach(() => expectNoContainerFolders(box.root));

/** Runs `hutch run ARGS` with a trace; its result and the steps of the CLI process, in order. */
async function tracedRun(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ exitCode?: number; stdout: string; stderr: string; steps: string[] }> {
  const file = join(mkdtempSync(join(tmpdir(), 'hutch-preheld-')), 'trace');
  const child = hutch(['run', '--root', box.root, ...args], { env: { ...PER_CONTAINER, ...env, HUTCH_TRACE: file } });
  const r = await child;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .filter(([, pid]) => Number(pid) === child.pid)
    .sort((a, b) => Number(a[0]) - Number(b[0]));
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, steps: lines.map((l) => l.slice(2).join(' ')) };
}

describe('hutch run IMAGE with the default id maps', () => {
  it('mounts its union through the holder started before the parse, and starts no other', async () => {
    const r = await tracedRun([
      '--network',
      'none',
      IMAGE,
      'sh',
      '-c',
      'id -u; cat /data/keep; echo new > /tmp/f; cat /tmp/f',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['1000', 'keep', 'new']);
    expect(r.steps).toContain('preheld taken');
    expect(r.steps).not.toContain('holder spawn');
    expect(r.steps.indexOf('preheld spawn')).toBeLessThan(r.steps.indexOf('cli parsed'));
    expect(r.steps.indexOf('union mounted')).toBeGreaterThan(r.steps.indexOf('preheld taken'));
  });
});

describe('a pre-started holder whose map tool fails (its launch on its own)', () => {
  it("fails the run with the tool's words, as a holder started by the run would, and leaves nothing", async () => {
    const bin = fakeTool(
      join(box.dir, 'fake-bin'),
      'newuidmap',
      '#!/bin/sh\necho "newuidmap: write to uid_map failed: Operation not permitted (fake)" >&2\nexit 1\n',
    );
    const r = await tracedRun(['--network', 'none', IMAGE, 'true'], { PATH: firstOnPath(bin) });
    expect(r.exitCode).toBe(125);
    expect(r.stderr.split('\n')[0]).toBe(
      'hutch: cannot map uids with newuidmap: newuidmap: write to uid_map failed: Operation not permitted (fake)',
    );
    expect(r.steps).toContain('preheld spawned');
    expect(r.steps).not.toContain('preheld started');
  });
});

describe('a run that does not take the pre-started holder ends it, then goes on as before', () => {
  it("containers.conf's userns = keep-id (other maps): the holder is ended, one with the run's maps started", async () => {
    const conf = join(box.dir, 'keep-id.conf');
    writeFileSync(conf, '[containers]\nuserns = "keep-id"\n');
    const r = await tracedRun(['--network', 'none', IMAGE, 'id', '-u'], { CONTAINERS_CONF: conf });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(String(process.getuid!()));
    expect(r.steps).toContain('preheld spawn');
    expect(r.steps).not.toContain('preheld taken');
    expect(r.steps.indexOf('preheld dropped')).toBeLessThan(r.steps.indexOf('holder spawn'));
  });

  it('the vfs driver (HUTCH_STORAGE_DRIVER): no union, the holder is ended', async () => {
    const r = await tracedRun(['--network', 'none', IMAGE, 'cat', '/data/keep'], { HUTCH_STORAGE_DRIVER: 'vfs' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('keep');
    expect(r.steps).toContain('preheld dropped');
    expect(r.steps).not.toContain('holder spawn');
  });

  it('a usage error: the holder is ended before hutch exits 125', async () => {
    const r = await tracedRun(['--no-such-flag', IMAGE, 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.steps).toContain('preheld dropped');
  });

  it('an image that is not there: the holder is ended', async () => {
    const r = await tracedRun(['--network', 'none', 'localhost/not-there', 'true']);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('not-there');
    expect(r.steps).toContain('preheld dropped');
  });
});

describe('the monitor of run -d starts the holder before go', () => {
  it('takes it for its first launch', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-preheld-')), 'trace');
    const r = await hutch(['run', '-d', '--rm', '--root', box.root, '--network', 'none', IMAGE, 'true'], {
      env: { ...PER_CONTAINER, HUTCH_TRACE: file },
    });
    expect(r.stderr).toBe('');
    await waitGone(r.stdout.trim());
    const monitor = stepsOf(file, 'monitor main');
    expect(monitor).toContain('preheld taken');
    expect(monitor.indexOf('preheld spawn')).toBeLessThan(monitor.indexOf('prepared'));
    expect(monitor).not.toContain('holder spawn');
  });

  it('a run -d whose image is missing: go never comes, the monitor ends and its holder with it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-preheld-')), 'trace');
    const r = await hutch(['run', '-d', '--root', box.root, '--network', 'none', 'localhost/not-there', 'true'], {
      env: { ...PER_CONTAINER, HUTCH_TRACE: file },
    });
    expect(r.exitCode).toBe(125);
    // The CLI kills the monitor it will not say go to (lifecycle.ts cancel): the holder's helper
    // and daemon end by their parent-death signal; none may be left (the leak check after each test).
    const monitor = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.endsWith(' monitor main'))
      ?.split(' ')[1];
    if (monitor === undefined) return; // killed before its bundle ran: it started nothing
    expect(stepsOf(file, 'monitor main')).toContain('preheld spawn');
    for (let i = 0; i < 200 && alive(Number(monitor)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(Number(monitor))).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The steps of the process of `file` that traced `marker`, in order. */
function stepsOf(file: string, marker: string): string[] {
  const byPid = new Map<string, string[][]>();
  for (const l of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const [t, pid, ...step] = l.split(' ');
    byPid.set(pid!, [...(byPid.get(pid!) ?? []), [t!, step.join(' ')]]);
  }
  const lines = [...byPid.values()].find((s) => s.some(([, step]) => step === marker)) ?? [];
  return lines.sort((a, b) => Number(a[0]) - Number(b[0])).map(([, step]) => step!);
}

describe('runs that start no holder before the parse', () => {
  it.each([
    ['--uidmap', ['--uidmap', `0:${process.getuid!()}:1`, '--user', '0']],
    ['--userns=keep-id', ['--userns=keep-id']],
    ['--storage-driver', ['--storage-driver', 'fuse']],
  ])('%s: the run starts its own, as before', async (_, flags) => {
    const r = await tracedRun(['--network', 'none', ...flags, IMAGE, 'true']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.steps).not.toContain('preheld spawn');
    expect(r.steps).toContain('holder spawn');
  });

  it('--rootfs and -d: none', async () => {
    const rootfs = await tracedRun(['--rootfs', join(box.dir, 'no-such-tree'), 'true']);
    expect(rootfs.exitCode).toBe(125);
    expect(rootfs.steps).not.toContain('preheld spawn');
    const detached = await tracedRun(['-d', '--rm', '--network', 'none', IMAGE, 'true']);
    expect(detached.exitCode).toBe(0);
    expect(detached.steps).not.toContain('preheld spawn');
    await waitGone(detached.stdout.trim());
  });
});

describe('hutch-fs waiting for its arguments on a pipe (HUTCH_FS_ARGS_FD)', () => {
  /** The daemon as the engine pre-starts it (without its namespaces: it must touch nothing anyway). */
  function waitingDaemon(): { stdin: Writable; ready: Readable; stderr: Readable; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'fuse', 'daemon-main.js')], {
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, HUTCH_FS_ARGS_FD: '0', HUTCH_FS_READY_FD: '3' },
    });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { stdin: child.stdin!, ready: child.stdio[3] as Readable, stderr: child.stderr!, exit };
  }
  const text = async (s: Readable): Promise<string> => {
    let all = '';
    for await (const chunk of s) all += String(chunk);
    return all;
  };

  it('exits 0 having said and mounted nothing when the pipe ends without arguments', async () => {
    const d = waitingDaemon();
    const [ready, stderr] = [text(d.ready), text(d.stderr)];
    d.stdin.end();
    expect(await d.exit).toBe(0);
    expect(await ready).toBe('');
    expect(await stderr).toBe('');
  });

  it('a line that is not its argument list: a usage error (2), nothing mounted', async () => {
    const d = waitingDaemon();
    const stderr = text(d.stderr);
    d.stdin.end('lowerdir=/x\n');
    expect(await d.exit).toBe(2);
    expect(await stderr).toMatch(/^hutch-fs: the arguments read from its pipe are not \{"args"/);
  });

  it('the arguments it reads are parsed as on its command line (a missing upperdir names itself)', async () => {
    const d = waitingDaemon();
    const stderr = text(d.stderr);
    d.stdin.end(JSON.stringify({ args: ['-f', '-o', 'lowerdir=/a', '/mnt'] }) + '\n');
    expect(await d.exit).toBe(2);
    expect(await stderr).toContain('hutch-fs needs -o upperdir=');
  });

  // The monitor's holder, started before go, has no stderr of its own until it is taken.
  it("the line's log takes what it says from then on", async () => {
    const log = join(box.dir, 'daemon.log');
    const d = waitingDaemon();
    const stderr = text(d.stderr);
    d.stdin.end(JSON.stringify({ args: ['-f', '-o', 'lowerdir=/a', '/mnt'], log }) + '\n');
    expect(await d.exit).toBe(2);
    expect(await stderr).toBe('');
    expect(readFileSync(log, 'utf8')).toContain('hutch-fs needs -o upperdir=');
  });
});

/** A `run -d --rm` container is gone once its record is. */
async function waitGone(id: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await hutch(['inspect', '--root', box.root, id]);
    if (r.exitCode !== 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`container ${id} is still there`);
}
