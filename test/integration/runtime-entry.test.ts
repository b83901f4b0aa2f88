// bin/hutch-runtime's own bundle entry (src/cli/runtime-main.ts): the verbs engines call on every
// container beside create load no clipanion and no koffi, and still answer as runc's face does;
// in front of it, the C front answers state, kill and delete without starting Node at all.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/sys/proc.js';
import { REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';

let box: Sandbox;
let sleeper: ChildProcess;
beforeEach(() => {
  box = sandbox();
  sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
});
afterEach(() => {
  sleeper.kill('SIGKILL');
  box.remove();
});

/** A record as `create` leaves it, for a process of the test's own (the verbs only read and signal it). */
function record(id: string): void {
  const dir = join(box.dir, 'rt', id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const spec = { ociVersion: '1.2.0', root: { path: join(box.dir, 'rootfs') }, annotations: { a: 'b' } };
  const pid = sleeper.pid!;
  const entry = { id, bundle: box.dir, spec, pid, pidStart: processStartTime(pid), created: 'then', status: 'created' };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(entry));
}

/** Writes the packages a process requires (koffi is one when it loads) to stderr at its exit. */
function watcher(): string {
  const file = join(box.dir, 'watch.cjs');
  writeFileSync(
    file,
    `const M = require('module'), seen = new Set(), load = M._load;
M._load = function (r, ...a) { seen.add(r); return load.call(this, r, ...a); };
process.on('exit', () => process.stderr.write('required: ' + [...seen].join(' ') + '\\n'));`,
  );
  return file;
}

/** bin/hutch-runtime; `via` 'node' makes its C front hand every command to Node (runtime-main.ts). */
const runtime = (...args: string[]) => runtimeVia('node', ...args);
const runtimeVia = (via: string, ...args: string[]) =>
  execa(join(REPO, 'bin', 'hutch-runtime'), ['--root', join(box.dir, 'rt'), ...args], {
    reject: false,
    stdin: 'ignore',
    env: { NODE_OPTIONS: `--require=${watcher()}`, HUTCH_DEBUG: '', HUTCH_RUNTIME_FRONT: via },
  });

describe('the runtime entry', () => {
  it('bundles no clipanion', () => {
    const bundle = readFileSync(join(REPO, 'dist', 'bundle', 'runtime.cjs'), 'utf8');
    expect(bundle).not.toMatch(/node_modules\/clipanion/);
  });

  it('answers --version, state, kill and delete without loading koffi', async () => {
    record('c1');
    const version = await runtime('--version');
    expect(version.stdout).toMatch(/^hutch-runtime version /);
    const state = await runtime('state', 'c1');
    expect(state.exitCode).toBe(0);
    expect(JSON.parse(state.stdout)).toMatchObject({
      id: 'c1',
      status: 'created',
      pid: sleeper.pid,
      annotations: { a: 'b' },
    });
    const ended = new Promise((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)));
    const kill = await runtime('--log-format', 'json', 'kill', 'c1', 'KILL');
    expect(kill.exitCode).toBe(0);
    expect(await ended).toBe('SIGKILL');
    const del = await runtime('delete', 'c1');
    expect(del.exitCode).toBe(0);
    expect(existsSync(join(box.dir, 'rt', 'c1'))).toBe(false);
    for (const r of [version, state, kill, del]) {
      expect(r.stderr).toMatch(/^required: /m);
      expect(r.stderr).not.toMatch(/koffi/);
    }
  });

  it('through the C front, answers state, kill and delete with no Node process at all', async () => {
    record('c1');
    const state = await runtimeVia('front', 'state', 'c1');
    expect(JSON.parse(state.stdout)).toMatchObject({ id: 'c1', status: 'created', pid: sleeper.pid });
    const kill = await runtimeVia('front', 'kill', 'c1', 'KILL');
    const del = await runtimeVia('front', 'delete', '--force', 'c1');
    for (const r of [state, kill, del]) {
      expect(r.exitCode).toBe(0);
      expect(r.stderr).not.toMatch(/^required: /m);
    }
    expect(existsSync(join(box.dir, 'rt', 'c1'))).toBe(false);
  });

  it('hands what it does not parse to the full CLI, as before', async () => {
    const help = await runtime('state', '--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/hutch runtime state/);
    const missing = await runtime('state');
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toMatch(/^hutch: cannot runtime state: arguments are missing$/m);
  });
});
