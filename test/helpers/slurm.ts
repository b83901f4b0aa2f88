// A one-node Slurm cluster (Debian's slurm-wlm 22.05: munged, slurmctld, slurmd) on loopback, run by
// the test user itself: every daemon as that user (SlurmUser and SlurmdUser), its state, sockets,
// logs and ports in the test's folder. slurmstepd then runs `hutch runtime` as the job's user, as
// on a cluster. `stop()` ends every daemon it started (and their steps) and waits for them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export interface Slurm {
  dir: string;
  /** SLURM_CONF and a PATH for srun/scancel/squeue. */
  env: NodeJS.ProcessEnv;
  /** Writes DIR/oci.conf (slurmstepd reads it at each step: no restart needed). */
  ociConf(text: string): void;
  /** The slurmd log, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

const NODE = 'hutchnode';

/** Starts munged, slurmctld and slurmd under DIR and waits until the node is idle. */
export async function startSlurm(dir: string): Promise<Slurm> {
  for (const d of ['munge', 'state', 'spool', 'log']) mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
  const conf = join(dir, 'slurm.conf');
  const pidFiles = ['slurmd.pid', 'slurmctld.pid', 'munge/pid'].map((f) => join(dir, f));
  const env = { ...process.env, SLURM_CONF: conf };
  const slurm: Slurm = {
    dir,
    env,
    ociConf: (text) => writeFileSync(join(dir, 'oci.conf'), text),
    log: () => readIfThere(join(dir, 'log', 'slurmd.log')),
    stop: async () => {
      await endJobs(env);
      await stopDaemons(pidFiles);
    },
  };
  try {
    writeFileSync(join(dir, 'munge', 'key'), randomBytes(1024), { mode: 0o400 });
    const munge = join(dir, 'munge');
    execFileSync('/usr/sbin/munged', [
      `--key-file=${munge}/key`,
      `--socket=${munge}/sock`,
      `--pid-file=${munge}/pid`,
      `--log-file=${munge}/log`,
      `--seed-file=${munge}/seed`,
      '--force', // the socket's folder is the user's own, not world-searchable
    ]);
    writeFileSync(conf, slurmConf(dir, await freePort(), await freePort()));
    slurm.ociConf('');
    execFileSync('/usr/sbin/slurmctld', ['-i'], { env });
    execFileSync('/usr/sbin/slurmd', ['-N', NODE], { env });
    await untilIdle(env);
    return slurm;
  } catch (error) {
    await slurm.stop();
    throw new Error(`slurm did not start: ${(error as Error).message}\n${slurm.log()}`, { cause: error });
  }
}

function slurmConf(dir: string, ctldPort: number, slurmdPort: number): string {
  const me = userInfo().username;
  return `ClusterName=hutch
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=${me}
SlurmdUser=${me}
SlurmctldPort=${ctldPort}
SlurmdPort=${slurmdPort}
AuthType=auth/munge
AuthInfo=socket=${dir}/munge/sock
CredType=cred/munge
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
SlurmdDebug=debug
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/linear
MpiDefault=none
ReturnToService=2
KillWait=2
NodeName=${NODE} NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`;
}

/** A port nothing listens on now (the daemons bind it moments later). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function untilIdle(env: NodeJS.ProcessEnv): Promise<void> {
  let state = '';
  for (let i = 0; i < 100; i++) {
    state = (await execa('sinfo', ['-h', '-N', '-o', '%t'], { env, reject: false })).stdout.trim();
    if (state === 'idle') return;
    await sleep(200);
  }
  throw new Error(`node ${NODE} is "${state}", not idle`);
}

/** Cancels every job left (a test that failed midway) and waits until slurmd has ended its steps. */
async function endJobs(env: NodeJS.ProcessEnv): Promise<void> {
  const queue = async () =>
    (await execa('squeue', ['-h', '-o', '%i'], { env, reject: false, timeout: 10_000 })).stdout.trim();
  if ((await queue()) === '') return;
  await execa('scancel', ['--user', userInfo().username], { env, reject: false, timeout: 10_000 });
  for (let i = 0; i < 100 && (await queue()) !== ''; i++) await sleep(200);
}

/** SIGTERM to each daemon (slurmd first: it ends its steps), then waits until each has gone. */
async function stopDaemons(pidFiles: string[]): Promise<void> {
  for (const file of pidFiles) {
    const pid = Number(readIfThere(file).trim());
    if (!(pid > 0) || !alive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

function alive(pid: number): boolean {
  const stat = readIfThere(`/proc/${pid}/stat`);
  return stat !== '' && !/^\S+ \(.*\) [ZX] /s.test(stat);
}

function readIfThere(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
