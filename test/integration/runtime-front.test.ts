// bin/hutch-runtime's C front (native/hutch-runtime-front) answers state, start, kill and delete
// without Node, as the Node verbs do: each case runs through the front and, on a second root set up
// the same, through Node (HUTCH_RUNTIME_FRONT=node), and compares stdout, stderr, the exit status,
// the root's entries afterwards, and whether a Node process started. Records are written by
// state.ts's own writeRecord, so a change of the format there that the front does not follow fails
// here (docs/oci-records.md).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeRecord, type OciRecord } from '../../src/engine/oci/state.js';
import { processStartTime } from '../../src/sys/proc.js';
import { REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';

const RUNTIME = join(REPO, 'bin', 'hutch-runtime');
let box: Sandbox;
let children: ChildProcess[];
beforeEach(() => {
  box = sandbox();
  children = [];
  writeFileSync(
    join(box.dir, 'watch.cjs'),
    "process.on('exit', () => process.stderr.write('node started\\n'));", // any Node process says so
  );
});
afterEach(() => {
  children.forEach((c) => c.kill('SIGKILL'));
  box.remove();
});

interface Outcome {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  node: boolean;
  entries: string[];
}

/** A process of the test's own standing in for a container: `sh -c SCRIPT`. */
function proc(script = 'exec sleep 1000'): ChildProcess {
  const child = spawn('sh', ['-c', script], { stdio: 'ignore' });
  children.push(child);
  return child;
}

const gone = { pid: process.pid, pidStart: 1 }; // this pid, another start time: an ended process

/** A record as `create` leaves it (state.ts writeRecord), with `change` applied. */
function record(root: string, id: string, pid: number, change: Partial<Record<keyof OciRecord, unknown>> = {}): void {
  mkdirSync(join(root, id), { recursive: true, mode: 0o700 });
  const spec = {
    ociVersion: '1.2.0',
    root: { path: join(box.dir, 'rootfs') },
    annotations: { 'io.x/é': 'a "quoted" \\ value\n\t\u0001\u2028 ✓ 😀', '': '' },
  };
  const base = { id, bundle: box.dir, spec, pid, pidStart: processStartTime(pid), created: '2026-01-02T03:04:05.006Z' };
  writeRecord(root, { ...base, status: 'created', ...change } as OciRecord);
}

let cases = 0;

/** Both roots set up by `setup`; the command run through the front on one and Node on the other. */
async function both(
  setup: (root: string) => unknown,
  args: (root: string) => string[],
): Promise<{ front: Outcome; node: Outcome }> {
  const n = ++cases;
  const run = async (via: string): Promise<Outcome> => {
    const root = join(box.dir, `${via}-${n}`);
    mkdirSync(root, { mode: 0o700 });
    const pids = [setup(root)].flat().filter((p): p is number => typeof p === 'number');
    const r = await execa(RUNTIME, args(root), {
      reject: false,
      stdin: 'ignore',
      stripFinalNewline: false,
      env: { NODE_OPTIONS: `--require=${join(box.dir, 'watch.cjs')}`, HUTCH_DEBUG: '', HUTCH_RUNTIME_FRONT: via },
    });
    const same = (s: string): string =>
      pids.reduce((t, p, i) => t.replaceAll(`"pid": ${p}`, `"pid": ${i}`), s.replaceAll(root, 'ROOT'));
    return {
      stdout: same(String(r.stdout)),
      stderr: same(String(r.stderr).replace(/^node started\n/m, '')),
      exitCode: r.exitCode,
      node: String(r.stderr).includes('node started'),
      entries: readdirSync(root).sort(),
    };
  };
  const front = await run('front');
  const node = await run('node');
  expect({ ...front, node: false }).toEqual({ ...node, node: false });
  expect(node.node).toBe(true);
  return { front, node };
}

/** A created container: its process waits to open exec.fifo for writing, then runs. */
function created(root: string, change = {}): number {
  mkdirSync(join(root, 'c1'), { recursive: true });
  execFileSync('mkfifo', [join(root, 'c1', 'exec.fifo')]);
  const p = proc(
    `while [ ! -p '${join(root, 'c1', 'exec.fifo')}' ]; do sleep 0.01; done; echo >'${join(root, 'c1', 'exec.fifo')}'; exec sleep 1000`,
  );
  record(root, 'c1', p.pid!, change);
  return p.pid!;
}

const rt =
  (...rest: string[]) =>
  (root: string): string[] => ['--root', root, ...rest];
const NOT_FOUND = (id: string): string =>
  `hutch: container ${id} does not exist\nhint: list containers with \`hutch runtime list\`\n`;

/** The exit of a process, once it has ended. */
const ended = (child: ChildProcess): Promise<string | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.signalCode)
    : new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));

describe('state', () => {
  it('of a created, stopped and creating container, a record with fields left out, and none', async () => {
    const live = proc();
    const cases: [(root: string) => unknown, string][] = [
      [(root) => (record(root, 'c1', live.pid!), live.pid), 'created'],
      [(root) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart, status: 'running' }), 'stopped'],
      [(root) => (record(root, 'c1', 0, { status: 'creating', owner: { pid: live.pid } }), live.pid), 'creating'],
      [
        (root) => (record(root, 'c1', live.pid!, { spec: { ociVersion: '1.0.0' }, created: undefined }), live.pid),
        'created',
      ],
    ];
    for (const [setup, status] of cases) {
      const { front } = await both(setup, rt('state', 'c1'));
      expect(front).toMatchObject({ exitCode: 0, node: false, stderr: '' });
      expect(JSON.parse(front.stdout).status).toBe(status);
    }
    const { front } = await both(() => undefined, rt('state', 'nope'));
    expect(front).toMatchObject({ exitCode: 125, node: false, stderr: NOT_FOUND('nope') });
  });

  it('removes a leftover of a killed runtime (owner and process gone) and says it does not exist', async () => {
    const leftover = (root: string) =>
      record(root, 'c1', gone.pid, { pidStart: gone.pidStart, owner: { pid: gone.pid, start: gone.pidStart } });
    const { front } = await both(leftover, rt('state', 'c1'));
    expect(front).toMatchObject({ exitCode: 125, node: false, stderr: NOT_FOUND('c1'), entries: [] });
  });

  it('takes the global flags before and after the verb, in both forms', async () => {
    const live = proc();
    const setup = (root: string) => (record(root, 'c1', live.pid!), live.pid);
    for (const args of [
      (root: string) => [`--root=${root}`, '--debug', '--log-format', 'json', 'state', 'c1'],
      (root: string) => ['state', '--systemd-cgroup', '--root', root, 'c1'],
    ]) {
      const { front } = await both(setup, args);
      expect(front).toMatchObject({ exitCode: 0, node: false });
    }
  });
});

describe('kill', () => {
  it('signals a created container, refuses a stopped or missing one', async () => {
    const signals: Promise<string | null>[] = [];
    const { front } = await both(
      (root) => {
        const p = proc();
        signals.push(ended(p));
        record(root, 'c1', p.pid!);
        return p.pid;
      },
      rt('kill', 'c1', 'usr1'),
    );
    expect(front).toMatchObject({ exitCode: 0, node: false, stdout: '', stderr: '' });
    expect(await Promise.all(signals)).toEqual(['SIGUSR1', 'SIGUSR1']);
    const stopped = (root: string) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart });
    const refused = await both(stopped, rt('kill', 'c1', 'KILL'));
    expect(refused.front).toMatchObject({ exitCode: 125, node: false });
    expect(refused.front.stderr).toBe(
      'hutch: cannot signal container c1: it is stopped\nhint: the container has ended; delete it\n',
    );
    expect((await both(() => undefined, rt('kill', 'nope'))).front).toMatchObject({ exitCode: 125, node: false });
  });

  it('hands a signal it does not know to Node, which says what is wrong', async () => {
    const stopped = (root: string) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart });
    const { front } = await both(stopped, rt('kill', 'c1', 'NOPE'));
    expect(front).toMatchObject({ exitCode: 125, node: true });
    expect(front.stderr).toContain('invalid signal NOPE');
  });
});

describe('delete', () => {
  it('refuses a running container without --force, kills and removes it with', async () => {
    const running = (root: string) => {
      const p = proc();
      record(root, 'c1', p.pid!, { status: 'running' });
      return p.pid;
    };
    const refused = await both(running, rt('delete', 'c1'));
    expect(refused.front).toMatchObject({ exitCode: 125, node: false, entries: ['c1'] });
    expect(refused.front.stderr).toBe(
      'hutch: cannot delete container c1: it is running\nhint: stop it first (hutch runtime kill c1 KILL), or use delete --force\n',
    );
    const forced = await both(running, rt('delete', '--force', 'c1'));
    expect(forced.front).toMatchObject({ exitCode: 0, node: false, stderr: '', entries: [] });
    expect(await Promise.all(children.slice(-2).map(ended))).toEqual(['SIGKILL', 'SIGKILL']);
  });

  it('refuses a container being created; removes a stopped one, a missing one with -f, a bare folder', async () => {
    const live = proc();
    const creating = (root: string) => (
      record(root, 'c1', 0, { status: 'creating', owner: { pid: live.pid } }),
      live.pid
    );
    expect((await both(creating, rt('delete', 'c1'))).front.stderr).toContain('it is being created');
    const stopped = (root: string) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart });
    expect((await both(stopped, rt('delete', 'c1'))).front).toMatchObject({ exitCode: 0, node: false, entries: [] });
    const missing = await both(() => undefined, rt('delete', 'nope'));
    expect(missing.front).toMatchObject({ exitCode: 125, stderr: NOT_FOUND('nope'), entries: ['.lock'], node: false });
    expect((await both(() => undefined, rt('delete', '-f', 'nope'))).front).toMatchObject({ exitCode: 0, stderr: '' });
    const bare = await both((root) => mkdirSync(join(root, 'c1')), rt('delete', '-f', 'c1'));
    expect(bare.front).toMatchObject({ exitCode: 0, node: false, entries: ['.lock'] });
  });

  it('hands a record with a cgroup or poststop hooks to Node', async () => {
    const hooks = { ociVersion: '1.2.0', hooks: { poststop: [{ path: '/bin/true' }] } };
    const withHooks = (root: string) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart, spec: hooks });
    expect((await both(withHooks, rt('delete', 'c1'))).front).toMatchObject({ exitCode: 0, node: true, entries: [] });
    const cgroup = {
      path: join(box.dir, 'no-cgroup'),
      group: 'x',
      manager: 'cgroupfs',
      controllers: [],
      required: false,
    };
    const withCgroup = (root: string) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart, cgroup });
    expect((await both(withCgroup, rt('delete', 'c1'))).front).toMatchObject({ node: true });
  });

  it('writes its error to --log as the Node verb does (text and json)', async () => {
    for (const format of ['text', 'json']) {
      const outcome = await both(
        () => undefined,
        (root) => ['--root', root, '--log', join(root, 'log'), '--log-format', format, 'delete', 'nope'],
      );
      expect(outcome.front).toMatchObject({ exitCode: 125, node: false });
      const [a, b] = ['front', 'node'].map((via) =>
        readFileSync(join(box.dir, `${via}-${cases}`, 'log'), 'utf8').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'TIME'),
      );
      expect(a).toBe(b);
      expect(a).toContain('container nope does not exist');
    }
  });
});

describe('start', () => {
  it('lets the process run and records it running, as JSON.stringify({ ...record, status }) writes it', async () => {
    const before: Record<string, string> = {};
    const { front } = await both(
      (root) => {
        const pid = created(root);
        before[root] = readFileSync(join(root, 'c1', 'state.json'), 'utf8');
        return pid;
      },
      rt('start', 'c1'),
    );
    expect(front).toMatchObject({ exitCode: 0, node: false, stderr: '', entries: ['c1'] });
    for (const [root, text] of Object.entries(before)) {
      expect(readdirSync(join(root, 'c1'))).toEqual(['state.json']);
      expect(readFileSync(join(root, 'c1', 'state.json'), 'utf8')).toBe(
        JSON.stringify({ ...JSON.parse(text), status: 'running' }) + '\n',
      );
    }
  });

  it('refuses a running, a stopped and a missing container; hands hooks to Node', async () => {
    const live = proc();
    const running = await both(
      (root) => (record(root, 'c1', live.pid!, { status: 'running' }), live.pid),
      rt('start', 'c1'),
    );
    expect(running.front.stderr).toBe(
      'hutch: cannot start container c1: it is running\nhint: only a created container can be started\n',
    );
    const stopped = await both((root) => record(root, 'c1', gone.pid, { pidStart: gone.pidStart }), rt('start', 'c1'));
    expect(stopped.front.stderr).toBe(
      'hutch: cannot start container c1: it is stopped\nhint: delete it and create it again\n',
    );
    expect((await both(() => undefined, rt('start', 'nope'))).front).toMatchObject({
      stderr: NOT_FOUND('nope'),
      node: false,
    });
    const hooks = { ociVersion: '1.2.0', hooks: { poststart: [{ path: '/bin/true' }] } };
    const hooked = await both((root) => created(root, { spec: hooks }), rt('start', 'c1'));
    expect(hooked.front).toMatchObject({ exitCode: 0, node: true });
  });
});

describe('records in forms state.ts does not write', () => {
  it('are read as JSON.parse reads them, or handed to Node: the same answer either way', async () => {
    const live = proc();
    const head = `"id":"c1","bundle":"/b","pid":${live.pid},"pidStart":${processStartTime(live.pid!)},"created":"t"`;
    const texts = [
      `{${head},"status":"created","spec":{"annotations":{"a":"\\ud800"}}}`, // a lone surrogate
      `{${head},"status":"running","status":"created","spec":{}}`, // a repeated key: the last counts
      `{${head},"status":"created","spec":{"annotations":{"b":"1","2":"x"}}}`, // JSON.parse puts "2" first
      `{${head},"status":"created","spec":{"ociVersion":"\\u0031\\/x","deep":${'['.repeat(999)}${']'.repeat(999)}}}`,
      `{${head},"status":"created","spec":{"root":"not an object"}}`,
      `{${head},"status":"created","spec":{},"pidfd":3}`, // a field of a newer format
      `{${head},"status":"created","spec":{}`, // cut short
    ];
    const raw = Buffer.concat([
      Buffer.from(`{${head},"status":"created","spec":{"ociVersion":"`),
      Buffer.from([0xff, 0x41]),
      Buffer.from('"}}'),
    ]);
    for (const text of [...texts, raw]) {
      const { front } = await both(
        (root) => {
          mkdirSync(join(root, 'c1'));
          writeFileSync(join(root, 'c1', 'state.json'), text);
          return live.pid;
        },
        rt('state', 'c1'),
      );
      expect(front.exitCode === 0 || front.stderr === NOT_FOUND('c1')).toBe(true);
    }
  });
});

describe('what the front leaves to Node', () => {
  it('an invalid id, an unknown option, help', async () => {
    for (const args of [rt('state', 'a/b'), rt('state', '--nope', 'c1'), rt('delete', '--help')]) {
      const { front } = await both(() => undefined, args);
      expect(front.node).toBe(true);
    }
  });

  it('start of a record in a form JSON.stringify does not write (state reads it)', async () => {
    const spaced = (root: string) => {
      const pid = created(root);
      const file = join(root, 'c1', 'state.json');
      writeFileSync(file, JSON.stringify(JSON.parse(readFileSync(file, 'utf8')), null, 1));
      return pid;
    };
    expect((await both(spaced, rt('state', 'c1'))).front).toMatchObject({ exitCode: 0, node: false });
    expect((await both(spaced, rt('start', 'c1'))).front).toMatchObject({ exitCode: 0, node: true });
  });
});
