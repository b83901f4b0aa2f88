import { rmSync } from 'node:fs';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeCause, HutchError } from '../../errors.js';
import { processStartTime } from '../../sys/proc.js';
import type { Cleanup } from '../../sys/cleanup.js';
import { faultPoint } from '../../sys/fault.js';
import {
  oomKilledNow,
  containerFiles,
  readConfig,
  readState,
  updateState,
  type ContainerConfig,
  type ContainerStore,
} from '../store/index.js';
import { containerIo, type ContainerIo } from './io.js';
import { launchFromRecord, withCleanup, type RecordLaunch } from './record-launch.js';
import { createContainer, type CreatedContainer } from '../launch/index.js';
import { removeRecord } from '../setup/index.js';
import { listen, settled, StartGate, type SerializedError } from './control.js';

export { errorFromReport, type SerializedError } from './control.js';
import { handOver, holderOf, serverFd, waiterPath } from './handover.js';
import { finishHandedOver, type HandedOverEnd } from './finish.js';

/**
 * The per-container monitor (conmon's role): a detached process in its own session that launches
 * the container, is the parent that reaps it, keeps its exit status and its log after the CLI is
 * gone, restarts it by policy, and removes it when it ends with --rm. Commands reach it through a
 * control socket in the runtime directory (`start`); everything else they read from state.json.
 */
export interface MonitorRequest {
  store: ContainerStore;
  id: string;
  /** Start right after create (run, start of a stopped container) or wait for `start` on the socket. */
  autoStart: boolean;
  /** The OCI face's stdio for the container: fds this process inherited at 4, 5, 6. */
  passStdio?: [number, number, number];
  /** Reports the outcome of the first create (and start, with autoStart) to the CLI. */
  notify: (message: MonitorMessage) => void;
  /** This process was the C waiter (handover.ts) of a run that ended: finish it, then go on. */
  resumed?: HandedOverEnd;
}

/** What one run needs beside the request. */
interface RunContext {
  req: MonitorRequest;
  config: ContainerConfig;
  starter: StartGate;
  server: Server;
  attempt: number;
  started: (pid: number) => void;
  warn: (line: string) => void;
}

/** What the monitor tells the CLI that spawned it, as one JSON line on fd 3. */
export type MonitorMessage = { ok: true; pid: number; warnings?: string[] } | { ok: false; error: SerializedError };

export async function runMonitor(req: MonitorRequest): Promise<void> {
  const { store, id, resumed } = req;
  const config = readConfig(store, id);
  if (resumed === undefined)
    await updateState(store, id, (s) => ({
      ...s,
      monitorPid: process.pid,
      monitorStart: processStartTime(process.pid),
    }));
  const starter = new StartGate(req.autoStart || resumed !== undefined);
  const server = await listen(containerFiles(store, id).socket, starter);
  let notified = resumed !== undefined;
  const notify = (m: MonitorMessage): void => {
    if (!notified) req.notify(m);
    notified = true;
  };
  // Warnings of the first launch (limits not enforced, ...) go to the CLI too, as a foreground run prints them.
  const early: string[] = [];
  const warn = (line: string): void => {
    process.stderr.write(line + '\n');
    if (!notified) early.push(line);
  };
  const started = (pid: number): void => notify({ ok: true, pid, warnings: early });
  const run = (attempt: number): Promise<number> =>
    withCleanup((cleanup) => oneRun({ req, config, starter, server, attempt, started, warn }, cleanup));
  try {
    let attempt = resumed?.attempt ?? 0;
    let exit = resumed ? await finishHandedOver(store, config, resumed, warn) : await run(attempt);
    while (await shouldRestart(store, id, config, exit)) {
      await sleep(Math.min(100 * 2 ** attempt, 5000));
      if (readState(store, id).stopRequested) break; // `stop` came during the pause
      starter.open();
      exit = await run(++attempt);
    }
  } catch (error) {
    notify({ ok: false, error: serializeError(error) });
    await updateState(store, id, (s) => ({
      ...s,
      status: 'stopped',
      finishedAt: new Date().toISOString(),
      error: describeCause(error),
    })).catch(() => undefined);
  } finally {
    server.close();
    rmSync(containerFiles(store, id).socket, { force: true });
  }
  if (config.autoRemove) await removeRecord(store, id);
}

/** Creates the container, waits for start, runs it to its end; returns its exit status. */
async function oneRun(ctx: RunContext, cleanup: Cleanup): Promise<number> {
  const { req, config, starter, started, warn } = ctx;
  const { store, id } = req;
  const io = await containerIo(store, config, req.passStdio, waiterPath() !== undefined && !hasHooks(config));
  let container: CreatedContainer;
  let launch: RecordLaunch;
  try {
    launch = await launchFromRecord(store, config, cleanup, warn); // image storage, network, cgroup
    faultPoint('prepared');
    container = await createContainer(launch.spec, { ...io.options, ...launch.options });
  } finally {
    io.afterCreate();
  }
  const recorded = await updateState(store, id, (s) => ({
    ...s,
    status: 'created',
    pid: container.pid,
    pidStart: processStartTime(container.pid),
    exitCode: undefined,
    error: undefined,
  }));
  // `rm -f` while it was being created found no pid to kill: it asked for the end instead
  // (lifecycle.ts killAll), and the run ends here as a killed created container does.
  if (recorded.stopRequested) container.kill('SIGKILL');
  if (!req.autoStart && !starter.isOpen) started(container.pid); // `create`: the CLI returns now
  // A created container killed before start (rm -f) ends the wait too.
  let over = false;
  const ended = container.wait().finally(() => (over = true));
  if ((await Promise.race([starter.wait().then(() => 'start'), ended.then(() => 'ended')])) === 'ended') {
    await io.drained();
    const { exitCode } = await ended;
    await updateState(store, id, (s) => ({ ...s, status: 'stopped', exitCode, finishedAt: new Date().toISOString() }));
    return exitCode;
  }
  try {
    await container.start();
  } catch (error) {
    starter.failed(serializeError(error));
    await ended;
    await io.drained();
    throw error;
  }
  await updateState(store, id, (s) => ({ ...s, status: 'running', startedAt: new Date().toISOString() }));
  faultPoint('running');
  started(container.pid);
  starter.started();
  await settled(ctx.server); // a `start` request's reply is out before this process execs
  if (!over && launch.failure?.() === undefined) tryHandOver(ctx, container, launch, io);
  io.keep(); // not handed over: the run stays here
  const { exitCode } = await ended;
  faultPoint('exited');
  await io.drained();
  // Read before the cgroup is removed with this run's cleanup.
  const oomKilled = oomKilledNow(store, id);
  const failure = launch.failure?.();
  if (failure !== undefined) warn(`hutch: ${failure.message}`);
  await updateState(store, id, (s) => ({
    ...s,
    status: 'stopped',
    exitCode,
    oomKilled,
    finishedAt: new Date().toISOString(),
    ...(failure === undefined ? {} : { error: failure.message }),
  }));
  return exitCode;
}

async function shouldRestart(
  store: ContainerStore,
  id: string,
  config: ContainerConfig,
  exitCode: number,
): Promise<boolean> {
  const state = readState(store, id);
  const policy = config.restart;
  if (state.stopRequested || policy.name === 'no') return false;
  const again = policy.name === 'always' || (exitCode !== 0 && (policy.max === 0 || state.restartCount < policy.max));
  if (again) await updateState(store, id, (s) => ({ ...s, restartCount: s.restartCount + 1 }));
  return again;
}

/** Whether the container has OCI hooks (CDI devices): their poststop step keeps the run in Node. */
function hasHooks(config: ContainerConfig): boolean {
  return Object.values(config.blueprint?.hooks ?? {}).some((list: unknown[] | undefined) => (list ?? []).length > 0);
}

/**
 * Once the container runs, this process becomes the C waiter (handover.ts) where it can: output
 * in pipes or a pty (the OCI face's passed stdio stays here), no OCI hooks (their poststop
 * closure lives here), the waiter built. Returns when it cannot.
 */
function tryHandOver(ctx: RunContext, container: CreatedContainer, launch: RecordLaunch, io: ContainerIo): void {
  const waiter = waiterPath();
  const controlFd = serverFd(ctx.server);
  const hooks = launch.options.starting !== undefined || launch.options.started !== undefined;
  if (waiter === undefined || controlFd === undefined || io.handover === undefined || hooks) return;
  handOver(waiter, {
    ...io.handover(),
    store: ctx.req.store,
    id: ctx.req.id,
    attempt: ctx.attempt,
    controlFd,
    helperPid: container.helperPid,
    containerPid: container.pid,
    holderPid: holderOf(launch.options.joins),
  });
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof HutchError)
    return { code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode };
  return {
    code: 'BUG',
    message: `the monitor failed: ${describeCause(error)}`,
    hint: 'this is a bug in hutch; see monitor.log in the container directory',
    exitCode: 125,
  };
}
