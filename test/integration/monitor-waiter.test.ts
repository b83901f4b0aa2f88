// The monitor of a running detached container is the C waiter (native/hutch-monitor, issue 17):
// the Node monitor execs it once the container runs and it execs Node again when the container
// ends. Its output, exit code, --rm and the restart policy work as before; kill -9 of the waiter
// leaves no process or mount behind.
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { requires } from '../helpers/host.js';
import { hutch, REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';
import { processTree, survivors } from '../helpers/process-tree.js';

requires('fuse', 'subuid', 'newuidmap', 'busybox', 'slirp4netns');

const IMAGE = 'localhost/itest';
let box: Sandbox;
let before: LeakSnapshot;
const h = (...args: string[]) => hutch([args[0]!, '--root', box.root, ...args.slice(1)]);
const state = (id: string): { monitorPid: number; status: string } =>
  JSON.parse(readFileSync(join(box.root, 'data', 'containers', id, 'state.json'), 'utf8'));

beforeAll(async () => {
  box = sandbox();
  await execa('bash', [join(REPO, 'test/fixtures/image-archive.sh'), join(box.dir, 'fx')]);
  expect((await h('load', '-q', '-i', join(box.dir, 'fx', 'it.tar'))).stderr).toBe('');
}, 120_000);

afterAll(() => box.remove());

beforeEach(() => {
  before = leakSnapshot();
});

afterEach(async () => {
  await expectNoLeaks(before, [join(box.root, 'run')]);
  expect((await h('ps', '-aq')).stdout).toBe('');
});

async function runD(...args: string[]): Promise<string> {
  const run = await h('run', '-d', ...args);
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  return String(run.stdout).trim();
}

/** Whether the container's monitor is the C waiter now (not a Node process). */
function waiting(id: string): boolean {
  return readlinkSync(`/proc/${state(id).monitorPid}/exe`).endsWith('/native/hutch-monitor');
}

async function waitFor(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error('timed out');
}

describe('the C waiter', () => {
  test('is the monitor of a running container; logs stay apart and wait gets the exit code', async () => {
    const script = 'echo out; echo err >&2; until [ -e /tmp/go ]; do sleep 0.1; done; printf last; exit 3';
    const id = await runD('--network', 'none', IMAGE, 'sh', '-c', script);
    await waitFor(() => waiting(id));
    const logs = await h('logs', id);
    expect([logs.stdout, logs.stderr]).toEqual(['out', 'err']);
    await h('exec', id, 'touch', '/tmp/go');
    expect((await h('wait', id)).stdout).toBe('3');
    expect((await h('logs', id)).stdout).toBe('out\nlast'); // the unfinished line, as a P piece
    const stamped = String((await h('logs', '-t', id)).stdout).split('\n');
    for (const line of stamped) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (out|last)$/);
    expect((await h('inspect', id)).stdout).toContain('"ExitCode": 3');
    expect((await h('rm', id)).exitCode).toBe(0);
  });

  test('takes a terminal over (-dit): what attach types runs in the shell, its output is logged', async () => {
    const id = await runD('-it', '--network', 'none', IMAGE, 'sh');
    await waitFor(() => waiting(id));
    const attach = hutch(['attach', '--root', box.root, id], { stdin: 'pipe' });
    attach.stdin!.write('echo $((6*7))x; exit 5\n');
    expect((await h('wait', id)).stdout).toBe('5');
    expect(String((await h('logs', id)).stdout)).toContain('42x');
    expect((await attach).exitCode).toBe(5);
    expect((await h('rm', id)).exitCode).toBe(0);
  });

  // It queued up to 16 MiB of input and dropped the rest; now it reads attach.sock only while
  // its queue (64 KiB) has room, the container's pty written without waiting.
  test('passes 1 MB of attach input into the terminal of a -dit container that reads slowly, every byte', async () => {
    const lines = ('a'.repeat(100) + '\n').repeat(10_000);
    const script = 'stty -echo; echo ready; sleep 2; cat';
    const id = await runD('-it', '--network', 'none', IMAGE, 'sh', '-c', script);
    await waitFor(() => waiting(id));
    await waitFor(async () => String((await h('logs', id)).stdout).includes('ready'));
    const attach = await hutch(['attach', '--root', box.root, id], { input: `${lines}\x04` }); // ^D ends cat
    expect(attach.exitCode, String(attach.stderr)).toBe(0);
    expect(String((await h('logs', id)).stdout).replace(/\r/g, '')).toBe(`ready\n${lines}`.trimEnd());
    expect((await h('rm', id)).exitCode).toBe(0);
  });

  test('passes attach input on (-i), and --rm removes the container when it ends', async () => {
    const id = await runD('-i', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'read line; echo got $line');
    await waitFor(() => waiting(id));
    const attach = hutch(['attach', '--root', box.root, id], { stdin: 'pipe' });
    attach.stdin!.write('hello\n');
    await waitFor(async () => (await h('inspect', id)).exitCode === 125);
    expect(String((await attach).stdout)).toContain('got hello');
  });

  test('hands over again on each run of a restart policy', async () => {
    const id = await runD(
      '--network',
      'none',
      '--restart',
      'on-failure:1',
      IMAGE,
      'sh',
      '-c',
      'echo run; sleep 1; exit 1',
    );
    await waitFor(async () => String((await h('logs', id)).stdout) === 'run\nrun');
    await waitFor(() => state(id).status === 'stopped');
    expect((await h('inspect', id)).stdout).toContain('"RestartCount": 1');
    expect((await h('rm', id)).exitCode).toBe(0);
  });

  test('killed with -9 leaves no process and no mount; rm cleans the record', async () => {
    const id = await runD('--network', 'slirp4netns', '-p', '127.0.0.1::80', IMAGE, 'sleep', '1000');
    await waitFor(() => waiting(id));
    const monitor = state(id).monitorPid;
    const tree = processTree(monitor);
    expect(tree.map((p) => p.command).join('\n')).toMatch(/slirp4netns/);
    process.kill(monitor, 'SIGKILL');
    await waitFor(async () => (await survivors(tree)).length === 0);
    expect((await h('rm', id)).exitCode).toBe(0);
  });
});
