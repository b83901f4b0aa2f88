// Slurm 22.05's OCI container support (`srun --container=BUNDLE`, oci.conf) driving hutch-runtime
// end to end on a one-node cluster on loopback, every daemon run by the test user (test/helpers/
// slurm.ts). What slurmstepd 22.05 calls: RunTimeRun as the task itself (its stdio, its exit
// status); or RunTimeCreate, RunTimeQuery until "created", RunTimeStart, RunTimeQuery until not
// "running", then RunTimeQuery/RunTimeKill/RunTimeDelete when the step ends or is cancelled.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO, sandbox, type Sandbox } from '../helpers/hutch-cli.js';
import { writeBundleConfig } from '../helpers/bundle-config.js';
import { busyboxRootfs } from '../helpers/rootfs.js';
import { requires } from '../helpers/host.js';
import { expectNoLeaks, leakSnapshot, type LeakSnapshot } from '../helpers/leaks.js';
import { startSlurm, type Slurm } from '../helpers/slurm.js';

const RUNTIME = join(REPO, 'bin', 'hutch-runtime');
let box: Sandbox;
let slurm: Slurm;
let bundle: string;
let before: LeakSnapshot;

/** oci.conf as docs/clusters.md gives it, with this test's runtime state folder. */
function ociConf(mode: 'run' | 'create'): string {
  const rt = `${RUNTIME} --root ${join(box.dir, 'rt')}`;
  const id = '%n.%u.%j.%s.%t';
  const common = [
    `RunTimeQuery="${rt} state ${id}"`,
    `RunTimeKill="${rt} kill -a ${id}"`,
    `RunTimeDelete="${rt} delete --force ${id}"`,
  ];
  if (mode === 'run') return [`RunTimeRun="${rt} run ${id} --bundle %b"`, ...common, ''].join('\n');
  // create's stdio is a pipe slurmstepd reads to its end: the container takes the task's own
  // stdio instead (the task is the parent of the shell slurmstepd runs the line with).
  const stdio = '</proc/$PPID/fd/0 >/proc/$PPID/fd/1 2>/proc/$PPID/fd/2';
  return [
    `RunTimeCreate="${rt} create ${id} --bundle %b ${stdio}"`,
    `RunTimeStart="${rt} start ${id}"`,
    ...common,
    '',
  ].join('\n');
}

const srun = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execa('srun', ['--quiet', `--container=${bundle}`, ...args], {
    env: { ...slurm.env, ...env },
    reject: false,
    timeout: 40_000,
  });

/** The containers' folders under --root (its lock file aside). */
const runtimeEntries = (): string[] =>
  existsSync(join(box.dir, 'rt')) ? readdirSync(join(box.dir, 'rt')).filter((e) => !e.startsWith('.')) : [];

describe('srun --container drives hutch-runtime (Slurm 22.05, one node on loopback)', () => {
  beforeAll(async () => {
    requires('userns', 'busybox', 'slurm');
    box = sandbox();
    slurm = await startSlurm(join(box.dir, 'slurm'));
    bundle = join(box.dir, 'bundle');
    mkdirSync(bundle);
    await busyboxRootfs(bundle);
    writeBundleConfig(bundle, ['sh']);
  });
  afterAll(async () => {
    await slurm?.stop();
    box?.remove();
  });
  beforeEach(() => void (before = leakSnapshot()));
  afterEach(async () => {
    await expectNoLeaks(before);
    expect(runtimeEntries()).toEqual([]);
  });

  it('RunTimeRun: the job runs in the bundle as the user, with its stdio, environment and exit status', async () => {
    slurm.ociConf(ociConf('run'));
    const r = await srun(['sh', '-c', 'echo "job $SLURM_JOB_ID"; cat /proc/self/uid_map; hostname; exit 3']);
    expect(r.exitCode, `${r.stderr}\n${slurm.log()}`).toBe(3);
    const [job, map, host] = r.stdout.split('\n');
    expect(job).toMatch(/^job \d+$/);
    expect(map!.trim().split(/\s+/)).toEqual(['0', String(userInfo().uid), '1']); // the user's uid, no other
    expect(host).toBe('oci'); // the bundle's own UTS namespace
  });

  it('RunTimeCreate/Start/Query/Delete: output reaches srun and the container is deleted', async () => {
    slurm.ociConf(ociConf('create'));
    const r = await srun(['sh', '-c', 'echo "step $SLURM_STEP_ID of job $SLURM_JOB_ID"; cat /proc/self/uid_map']);
    expect(r.exitCode, `${r.stderr}\n${slurm.log()}`).toBe(0);
    const [step, map] = r.stdout.split('\n');
    expect(step).toMatch(/^step 0 of job \d+$/);
    expect(map!.trim().split(/\s+/)).toEqual(['0', String(userInfo().uid), '1']);
  });

  it("sbatch --container: the batch script runs in the bundle, its output in the job's file", async () => {
    slurm.ociConf(ociConf('run'));
    const out = join(box.dir, 'batch.out');
    const script = 'echo "batch $SLURM_JOB_ID"; cat /proc/self/uid_map';
    const r = await execa('sbatch', ['--wait', `--container=${bundle}`, '-o', out, '--wrap', script], {
      env: slurm.env,
      reject: false,
      timeout: 40_000,
    });
    expect(r.exitCode, `${r.stderr}\n${slurm.log()}`).toBe(0);
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toMatch(/^batch \d+$/);
    expect(lines[1]!.trim().split(/\s+/)).toEqual(['0', String(userInfo().uid), '1']);
  });

  // The killed `hutch-runtime run` (slurmstepd signals the task, then kills what is left) leaves an
  // entry whose owner and container are gone: slurmstepd's next RunTimeQuery removes it.
  it('scancel of a running step: Slurm kills and deletes the container, nothing is left', async () => {
    await scancelWhileRunning(['sleep', '1000']);
  });

  // As on a fresh machine, where the start is slow: the step is cancelled while `run` creates the
  // container (HUTCH_FAULT stops it there; scancel's SIGCONT lets it go on, with SIGTERM pending).
  it('scancel while the container is being created: nothing is left', async () => {
    await scancelWhileRunning(['sleep', '1000'], { HUTCH_FAULT: 'created:stop' });
  });
});

/** Starts a step, cancels it once it runs and its runtime entry exists, waits until the entry is gone. */
async function scancelWhileRunning(args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  slurm.ociConf(ociConf('run'));
  const job = srun(args, env);
  let ids: string[] = [];
  for (let i = 0; i < 150 && ids.length === 0; i++) {
    await sleep(200);
    ids = (await execa('squeue', ['-h', '-t', 'R', '-o', '%i'], { env: slurm.env })).stdout.split('\n').filter(Boolean);
    if (runtimeEntries().length === 0) ids = [];
  }
  expect(ids, `the step never ran\n${slurm.log()}`).toHaveLength(1);
  await execa('scancel', [ids[0]!], { env: slurm.env });
  const r = await job;
  expect(r.exitCode).not.toBe(0);
  for (let i = 0; i < 100 && runtimeEntries().length > 0; i++) await sleep(100);
  expect(runtimeEntries(), slurm.log()).toEqual([]);
}
