// kill -9 at each step of `run` (issue 14): hutch (a foreground run, or the run -d command before
// its monitor reported) or the monitor (run -d) stops itself at a step (HUTCH_FAULT=STEP:stop, src/sys/fault.ts), the test notes every process below
// it and kills it with SIGKILL. After each: none of those processes is left, no mount, the store
// is consistent once `hutch system check --repair` has run (and says so on the next check), and a
// container that ran alongside all the time still answers.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, REPO, sandbox, type HutchResultPromise, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';
import { processTree, survivors, waitStopped, type Proc } from '../helpers/process-tree.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox', 'slirp4netns', 'tun');

const IMAGE = 'localhost/itest';
let box: Sandbox;
let bystander: string;
let before: LeakSnapshot;

beforeAll(async () => {
  box = sandbox();
  await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), join(box.dir, 'fx')]);
  expect((await hutch(['load', '--root', box.root, '-q', '-i', join(box.dir, 'fx', 'it.tar')])).stderr).toBe('');
  const started = await hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000']);
  expect(started.stderr).toBe('');
  bystander = started.stdout.trim();
}, 120_000);

afterAll(async () => {
  await hutch(['rm', '-f', '--root', box.root, bystander]);
  box.remove();
});

beforeEach(() => {
  before = leakSnapshot();
});

afterEach(async () => {
  await expectNoLeaks(before);
  const check = await hutch(['system', 'check', '--repair', '--root', box.root]);
  expect(check.exitCode, check.stdout).toBe(0);
  const again = await hutch(['system', 'check', '--root', box.root]);
  expect(again.stdout).toBe('ok: the storage is consistent');
  for (const dir of ['data/ephemeral', 'run/ephemeral'])
    expect(entries(join(box.root, dir)), `left in ${dir}`).toEqual([]);
  const alive = await hutch(['exec', '--root', box.root, bystander, 'echo', 'alive']);
  expect(alive.stdout).toBe('alive');
});

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
}

/** Waits for `pid` to stop at its fault point, notes its process tree, kills it with SIGKILL. */
async function killAtFault(pid: number, child: HutchResultPromise): Promise<Proc[]> {
  const stopped = await waitStopped(pid);
  if (!stopped) {
    const r = await child;
    throw new Error(`never reached its fault point: ${r.stderr}`);
  }
  const tree = processTree(pid);
  process.kill(pid, 'SIGKILL');
  return tree;
}

describe('kill -9 of a foreground hutch run', () => {
  test.each(['blueprint', 'prepared', 'cloned', 'created', 'started', 'exited'])('at step %s', async (step) => {
    const child = hutch(['run', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1'], {
      env: { HUTCH_FAULT: `${step}:stop` },
    });
    const tree = await killAtFault(child.pid!, child);
    const result = await child;
    expect(result.signal).toBe('SIGKILL');
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
    const found = await hutch(['system', 'check', '--root', box.root]);
    expect(found.exitCode).toBe(1);
    expect(found.stdout).toMatch(/^problem: the folders of foreground run [0-9a-f]{12} outlived it$/m);
  });
});

describe('kill -9 of a foreground hutch run while the holder it started before the parse starts', () => {
  // The launch of src/engine/setup/preheld-holder.ts has fault points of its own: no run folder yet.
  // A union daemon per container (HUTCH_FS_SHARED=0): the shared one runs already (the bystander's).
  test.each(['preheld-cloned', 'preheld-created'])('at step %s', async (step) => {
    const child = hutch(['run', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1'], {
      env: { HUTCH_FAULT: `${step}:stop`, HUTCH_FS_SHARED: '0' },
    });
    const tree = await killAtFault(child.pid!, child);
    expect(tree.map((p) => p.command).join('\n')).toContain('hutch-nsexec');
    expect((await child).signal).toBe('SIGKILL');
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
  });
});

describe('kill -9 of the monitor of hutch run -d while the holder it started before go starts', () => {
  test.each(['preheld-cloned', 'preheld-created'])('at step %s', async (step) => {
    const child = hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1'], {
      env: { HUTCH_FAULT: `${step}:stop`, HUTCH_FS_SHARED: '0' },
    });
    const monitor = await stoppedMonitor(child.pid!);
    const tree = await killAtFault(monitor, child);
    await child; // the CLI gives up: its monitor died before it reported
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
    for (const id of entries(join(box.root, 'data', 'containers')).filter((n) => n !== bystander))
      expect((await hutch(['rm', '-f', '--root', box.root, id])).exitCode).toBe(0);
  });
});

/** The monitor below `cli` (its state does not name it before go): the first that stops at its fault point. */
async function stoppedMonitor(cli: number): Promise<number> {
  for (let i = 0; i < 1200; i++) {
    const monitor = processTree(cli).find((p) => / monitor /.test(p.command));
    if (monitor !== undefined) return monitor.pid;
    await sleep(20);
  }
  throw new Error('no monitor below the CLI');
}

describe('kill -9 of the monitor of hutch run -d', () => {
  test.each(['prepared', 'cloned', 'created', 'running', 'exited'])('at step %s', async (step) => {
    const child = hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1'], {
      env: { HUTCH_FAULT: `${step}:stop`, HUTCH_FS_SHARED: '0' },
    });
    const { id, monitor } = await newMonitor();
    const tree = await killAtFault(monitor, child);
    await child; // the CLI gives up or returns, whichever came first
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
    // The CLI removes a container whose monitor died before it reported; else rm does.
    if (existsSync(join(box.root, 'data', 'containers', id))) {
      const found = await hutch(['system', 'check', '--root', box.root]);
      expect(found.stdout).toContain(
        `problem: container ${id.slice(0, 12)} is recorded as live but its monitor is gone`,
      );
      expect((await hutch(['system', 'check', '--repair', '--root', box.root])).exitCode).toBe(0);
      expect((await hutch(['rm', '--root', box.root, id])).stderr).toBe('');
    }
  });
});

describe('kill -9 around the network started ahead of the container (run -d -p, slirp4netns)', () => {
  // The forwarder makes the container's network namespace and slirp4netns starts on it while the
  // union mounts (src/engine/setup/setup.ts, network ahead): at `prepared` and `cloned` the
  // forwarder runs, slirp4netns too by `cloned` unless its --help is still being read (once per store).
  test.each(['prepared', 'cloned'])('the monitor at step %s: nothing is left', async (step) => {
    const child = hutch(['run', '-d', '--root', box.root, '-p', '127.0.0.1::80', IMAGE, 'sleep', '1'], {
      env: { HUTCH_FAULT: `${step}:stop` },
    });
    const { id, monitor } = await newMonitor();
    const tree = await killAtFault(monitor, child);
    const commands = tree.map((p) => p.command).join('\n');
    expect(commands).toContain('hutch-forwarder --userns=');
    await child;
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
    if (existsSync(join(box.root, 'data', 'containers', id))) {
      expect((await hutch(['system', 'check', '--repair', '--root', box.root])).exitCode).toBe(0);
      expect((await hutch(['rm', '--root', box.root, id])).stderr).toBe('');
    }
  });

  test('the forwarder holding the namespace, before the container joined: the run fails; nothing is left', async () => {
    const child = hutch(['run', '-d', '--root', box.root, '-p', '127.0.0.1::80', IMAGE, 'sleep', '1000'], {
      env: { HUTCH_FAULT: 'prepared:stop' },
    });
    const { id, monitor } = await newMonitor();
    expect(await waitStopped(monitor)).toBe(true);
    const tree = processTree(monitor);
    const forwarder = tree.find((p) => /hutch-forwarder --userns=/.test(p.command));
    expect(forwarder, tree.map((p) => p.command).join('\n')).toBeDefined();
    process.kill(forwarder!.pid, 'SIGKILL');
    process.kill(monitor, 'SIGCONT');
    const result = await child;
    expect(result.exitCode).toBe(125);
    // The forwarder makes the namespace while the run prepares: killed before it said so, the run
    // reports the namespace never made; after, the namespace's holder gone. Either names the forwarder.
    expect(result.stderr).toMatch(
      /^hutch: cannot start the container(: the port forwarder \(pid \d+\) holding its network namespace has exited|'s network namespace \(made by the port forwarder [^)]*\): the forwarder exited with status null)\nhint: /m,
    );
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
    expect(existsSync(join(box.root, 'data', 'containers', id))).toBe(false);
  });
});

describe('kill -9 of the hutch run -d command itself', () => {
  // recorded: the container is recorded, its monitor started but not told to go (it ends with the
  // command, untouched); monitor-spawned: the monitor runs, the command has not read its report
  // (the monitor goes on, with nobody to tell).
  test.each(['recorded', 'monitor-spawned'])('at step %s: rm -f leaves nothing', async (step) => {
    const child = hutch(['run', '-d', '--root', box.root, '--network', 'none', IMAGE, 'sleep', '1000'], {
      env: { HUTCH_FAULT: `${step}:stop` },
    });
    const tree = await killAtFault(child.pid!, child);
    expect((await child).signal).toBe('SIGKILL');
    const ids = entries(join(box.root, 'data', 'containers')).filter((n) => n !== bystander);
    expect(ids).toHaveLength(1);
    const removed = await hutch(['rm', '-f', '--root', box.root, ids[0]!]);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
  });
});

describe('rm -f of a run -d container its monitor is still creating', () => {
  // The monitor recorded itself but not yet the container's pid: rm -f has nothing to kill. It
  // asks for the end instead, and the monitor kills the container as it records the pid, before
  // it is started (it used to start it, and rm -f waited 10 s and then killed the monitor).
  test('ends it before it starts; nothing is left', async () => {
    const mark = join(box.dir, `mark-${Date.now()}`);
    mkdirSync(mark);
    const child = hutch(
      [
        'run',
        '-d',
        '--root',
        box.root,
        '--network',
        'none',
        '-v',
        `${mark}:/x`,
        IMAGE,
        'sh',
        '-c',
        'touch /x/ran; sleep 1000',
      ],
      { env: { HUTCH_FAULT: 'prepared:stop' } },
    );
    const { id, monitor } = await newMonitor();
    expect(await waitStopped(monitor)).toBe(true);
    const tree = processTree(monitor);
    const removing = hutch(['rm', '-f', '--root', box.root, id]);
    const statePath = join(box.root, 'data', 'containers', id, 'state.json');
    for (let i = 0; i < 400 && !JSON.parse(readFileSync(statePath, 'utf8')).stopRequested; i++) await sleep(25);
    expect(JSON.parse(readFileSync(statePath, 'utf8')).stopRequested).toBe(true);
    process.kill(monitor, 'SIGCONT');
    const removed = await removing;
    expect(removed.exitCode, removed.stderr).toBe(0);
    await child;
    expect(existsSync(join(mark, 'ran'))).toBe(false);
    expect((await survivors(tree)).map((p) => p.command)).toEqual([]);
    expect(existsSync(join(box.root, 'data', 'containers', id))).toBe(false);
  });
});

/** The id and monitor pid of the container that is not the bystander, once its monitor recorded itself. */
async function newMonitor(): Promise<{ id: string; monitor: number }> {
  const dir = join(box.root, 'data', 'containers');
  for (let i = 0; i < 1200; i++) {
    for (const id of entries(dir).filter((n) => n !== bystander)) {
      try {
        const state = JSON.parse(readFileSync(join(dir, id, 'state.json'), 'utf8')) as { monitorPid?: number };
        if (state.monitorPid !== undefined) return { id, monitor: state.monitorPid };
      } catch {
        // not written yet
      }
    }
    await sleep(50);
  }
  throw new Error('no monitor recorded itself');
}

describe('a helper process of a run -d container killed with -9', () => {
  /** Starts a container, kills the first process of its monitor's tree matching `which`, waits until it is recorded stopped or `stillRuns`. */
  async function killHelper(which: RegExp, network: string): Promise<{ id: string; status: string }> {
    const started = await hutch(['run', '-d', '--root', box.root, '--network', network, IMAGE, 'sleep', '1000']);
    expect(started.stderr).toBe('');
    const id = started.stdout.trim();
    const state = (): { status: string; monitorPid: number } =>
      JSON.parse(readFileSync(join(box.root, 'data', 'containers', id, 'state.json'), 'utf8'));
    const victim = processTree(state().monitorPid).find((p) => which.test(p.command));
    expect(victim, `no process like ${which} under the monitor`).toBeDefined();
    expect(victim!.pid).toBeGreaterThan(1);
    process.kill(victim!.pid, 'SIGKILL');
    await sleep(1000);
    return { id, status: state().status };
  }

  // The shared union daemon serves the bystander too: its kill -9 is fuse-shared.test.ts's.
  test("the union's holder: the container ends, recorded as stopped with the reason; rm leaves nothing", async () => {
    const { id } = await killHelper(/hutch-fs-holder/, 'none');
    for (let i = 0; i < 200; i++) {
      const inspect = await hutch(['inspect', '--root', box.root, id]);
      const st = JSON.parse(inspect.stdout)[0].State;
      if (st.Status === 'exited' || st.Status === 'stopped') {
        expect(st.Error).toContain('union filesystem daemon');
        break;
      }
      await sleep(100);
    }
    expect((await hutch(['rm', '--root', box.root, id])).stderr).toBe('');
  });

  test('slirp4netns: the container goes on without a network; rm -f leaves nothing', async () => {
    const { id, status } = await killHelper(/^slirp4netns /, 'slirp4netns');
    expect(status).toBe('running');
    expect((await hutch(['exec', '--root', box.root, id, 'echo', 'still here'])).stdout).toBe('still here');
    expect((await hutch(['rm', '-f', '--root', box.root, id])).stderr).toBe('');
  });
});
