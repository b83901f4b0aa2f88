// `hutch runtime run` killed or signalled (issue 15: slurmstepd's scancel): its container dies with
// it, and the entry it leaves is removed by the next command that looks at the id, as runc's
// delete removes a stopped container; `delete --force` ends a container still being created.
// After each test: no process, mount or entry left.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { hutch, type Sandbox } from '../helpers/hutch-cli.js';
import { writeBundleConfig } from '../helpers/bundle-config.js';
import { useBundleSandbox } from '../helpers/frames.js';
import { isSameProcess, processStartTime } from '../../src/sys/proc.js';

let box: Sandbox;
let bundle: string;
const rtArgs = (...args: string[]) => ['runtime', '--root', join(box.dir, 'rt'), ...args];
const rt = (...args: string[]) => hutch(rtArgs(...args));
/** `run` in the background, its stdio off the captured pipes, with HUTCH_FAULT when given. */
const runInBackground = (id: string, fault = '') =>
  hutch(rtArgs('run', '--bundle', bundle, id), { stdout: 'ignore', stderr: 'ignore', env: { HUTCH_FAULT: fault } });
const status = async (id: string): Promise<string> => {
  const r = await rt('state', id);
  return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as { status: string }).status : String(r.stderr);
};

useBundleSandbox((b, dir) => ((box = b), (bundle = dir)));

describe('a killed hutch runtime run', () => {
  it('kill -9 of run: its container ends, the next state finds no container and removes the entry', async () => {
    writeBundleConfig(bundle, ['sleep', '1000']);
    const run = runInBackground('k1');
    await until(async () => (await status('k1')) === 'running');
    const pid = (JSON.parse(String((await rt('state', 'k1')).stdout)) as { pid: number }).pid;
    const start = processStartTime(pid);
    run.kill('SIGKILL');
    await run;
    await until(() => !isSameProcess(pid, start)); // the parent-death signal
    expect(existsSync(join(box.dir, 'rt', 'k1', 'state.json'))).toBe(true); // nobody removed it yet
    expect(await status('k1')).toContain('container k1 does not exist');
    expect(existsSync(join(box.dir, 'rt', 'k1'))).toBe(false);
    writeBundleConfig(bundle, ['true']);
    expect((await rt('run', '--bundle', bundle, 'k1')).exitCode).toBe(0); // the id is free again
  });

  it('killed while it creates the container: list shows nothing and the entry is gone', async () => {
    writeBundleConfig(bundle, ['sleep', '1000']);
    const run = await runInBackground('k2', 'created:kill');
    expect(run.signal).toBe('SIGKILL');
    expect(existsSync(join(box.dir, 'rt', 'k2', 'state.json'))).toBe(true);
    await until(async () => String((await rt('list', '-q')).stdout) === '');
    expect(existsSync(join(box.dir, 'rt', 'k2'))).toBe(false);
  });

  it('delete --force of a container being created ends the run that creates it; plain delete refuses', async () => {
    writeBundleConfig(bundle, ['sleep', '1000']);
    const run = runInBackground('k3', 'created:stop');
    await until(async () => (await status('k3')) === 'creating');
    const refused = await rt('delete', 'k3');
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain('cannot delete container k3: it is being created');
    expect((await rt('delete', '--force', 'k3')).exitCode).toBe(0);
    expect((await run).signal).toBe('SIGKILL');
    expect(existsSync(join(box.dir, 'rt', 'k3'))).toBe(false);
    await sleep(200); // the container's parent-death signal, before the leak check
  });

  it('a folder left without state.json is removed by delete, as runc does', async () => {
    mkdirSync(join(box.dir, 'rt', 'k4'), { recursive: true });
    expect((await rt('delete', '--force', 'k4')).exitCode).toBe(0);
    expect(existsSync(join(box.dir, 'rt', 'k4'))).toBe(false);
  });
});

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error('condition never became true');
}
