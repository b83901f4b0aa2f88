import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HutchError, RuntimeError, UsageError } from '../../errors.js';
import { entryCommand } from '../../sys/entry-points.js';
import { faultPoint } from '../../sys/fault.js';
import { isSameProcess } from '../../sys/proc.js';
import { readReadyLine } from '../../sys/ready-line.js';
import { spawnWaitingChild, type WaitingChild } from '../../sys/waiting-child.cjs';
import {
  cgroupOf,
  killCgroup,
  setPaused,
  containerFiles,
  shortSocketPath,
  readState,
  updateState,
  withContainerLock,
  type ContainerStore,
  isLive,
  viewContainer,
  type ContainerView,
} from '../store/index.js';
import { errorFromReport, type GoWord, type MonitorMessage, type SerializedError } from '../monitor/index.js';
import { removeRecord } from '../setup/index.js';

/**
 * Spawns the monitor of a container and waits until it has created (and, with `start`, started)
 * it; returns the container's pid and the warnings of that launch, for the CLI to print.
 */
export async function spawnMonitor(
  store: ContainerStore,
  id: string,
  mode: 'create' | 'start',
  passStdio?: [number, number, number],
): Promise<{ pid: number; warnings: string[] }> {
  return startMonitor(store, id, mode, passStdio).go();
}

/** A monitor started ahead of its container's record, waiting for the word to read it. */
export interface PendingMonitor {
  /** Lets it read the record and launch; resolves as spawnMonitor does. */
  go(): Promise<{ pid: number; warnings: string[] }>;
  /** Ends it if go was not said (the record could not be made): it has touched nothing. */
  cancel(): void;
}

/**
 * The monitor of a container whose folder exists (its log goes there) but whose record may not
 * yet: `spawned` (run -d and create: the one started at the CLI's start, src/sys/waiting-child.cts), or
 * one spawned now. Node starts and loads its code, then waits for go on fd 3 (main.ts), so that its
 * start overlaps the CLI's own set-up (the image, the record) instead of following it.
 */
export function startMonitor(
  store: ContainerStore,
  id: string,
  mode: 'create' | 'start',
  passStdio?: [number, number, number],
  spawned?: WaitingChild,
): PendingMonitor {
  const monitor = spawned ?? spawnWaitingChild(entryCommand('monitor'), passStdio);
  const log = containerFiles(store, id).monitorLog;
  return {
    go: async () => {
      const word: GoWord = { data: store.data, run: store.run, id, mode, log };
      monitor.go(word);
      faultPoint('monitor-spawned');
      const reply = (await readReadyLine(monitor.channel)).trim();
      if (reply === '') throw await diedBeforeReport(monitor, id, log);
      monitor.child.unref();
      const message = JSON.parse(reply) as MonitorMessage;
      if (!message.ok) throw errorFromReport(message.error);
      return { pid: message.pid, warnings: message.warnings ?? [] };
    },
    cancel: () => monitor.cancel(),
  };
}

/** Why a monitor ended without a report: its exit, and what it said before it had its log. */
async function diedBeforeReport(monitor: WaitingChild, id: string, log: string): Promise<RuntimeError> {
  const { child } = monitor;
  // Still ref'd (go): the CLI waits for its exit status, at most 2 s, then lets it be.
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined)
    await Promise.race([once(child, 'exit'), sleep(2000, undefined, { ref: false })]);
  child.unref();
  const how =
    child.pid === undefined
      ? 'it could not be spawned'
      : child.signalCode !== null
        ? `it was killed by ${child.signalCode} before reporting`
        : `it exited${child.exitCode === null ? '' : ` with status ${child.exitCode}`} before reporting`;
  const said = monitor.stderr().trim();
  return new RuntimeError(
    'MONITOR_DIED',
    `cannot start the monitor of container ${id.slice(0, 12)}: ${how}${said ? `: ${said}` : ''}`,
    { hint: `see ${log}` },
  );
}

/** Starts a created container (through its monitor) or a stopped one (with a new monitor). */
export async function startContainer(store: ContainerStore, id: string): Promise<void> {
  const view = viewContainer(store, id);
  if (view.state.status === 'running') return;
  if (view.state.status === 'created') {
    const reply = await request(containerFiles(store, id).socket, 'start');
    const message = JSON.parse(reply) as { ok: boolean; error?: SerializedError };
    if (!message.ok) throw errorFromReport(message.error!);
    return;
  }
  if (view.state.status !== 'stopped')
    throw new UsageError('CONTAINER_STATE', `cannot start container ${view.config.name}: it is ${view.state.status}`, {
      hint: 'wait for it, or remove it with `hutch rm -f`',
    });
  await updateState(store, id, (s) => ({
    ...s,
    status: 'creating',
    monitorPid: undefined,
    monitorStart: undefined,
    stopRequested: false,
  }));
  await spawnMonitor(store, id, 'start');
}

/** Sends a signal to the container's process; `stopping` keeps the restart policy from undoing it. */
export async function signalContainer(
  store: ContainerStore,
  id: string,
  signal: NodeJS.Signals | number,
  stopping = false,
): Promise<void> {
  const view = viewContainer(store, id);
  if (view.state.status !== 'running' && view.state.status !== 'created' && view.state.status !== 'paused') {
    throw new UsageError(
      'CONTAINER_NOT_RUNNING',
      `cannot signal container ${view.config.name}: it is ${view.state.status}`,
      { hint: 'start it first with `hutch start`' },
    );
  }
  if (stopping) await updateState(store, id, (s) => ({ ...s, stopRequested: true }));
  if (!isSameProcess(view.state.pid, view.state.pidStart)) return; // ended meanwhile
  try {
    process.kill(view.state.pid!, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** SIGTERM (or the stop signal), then SIGKILL after `timeout` seconds, as podman stop. */
export async function stopContainer(
  store: ContainerStore,
  id: string,
  timeout: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  const view = viewContainer(store, id);
  if (!isLive(view)) {
    // Between two runs of a restart policy: the monitor must not start it again.
    if (isSameProcess(view.state.monitorPid, view.state.monitorStart))
      await updateState(store, id, (s) => ({ ...s, stopRequested: true }));
    return;
  }
  // A frozen process cannot act on SIGTERM: thaw it first, as podman does.
  if (view.state.status === 'paused') await setPaused(store, id, false).catch(() => undefined);
  await signalContainer(store, id, signal, true);
  if (await waitStopped(store, id, timeout * 1000)) return;
  await killAll(store, id);
  await waitStopped(store, id, 30_000);
}

/** Waits until the container is stopped (or `ms` passed); returns whether it stopped. */
export async function waitStopped(store: ContainerStore, id: string, ms = Infinity): Promise<boolean> {
  for (let round = 0, end = Date.now() + ms; ; round++) {
    let view: ContainerView;
    try {
      view = viewContainer(store, id);
    } catch (error) {
      if (error instanceof HutchError && error.code === 'CONTAINER_NOT_FOUND') return true; // removed (--rm)
      throw error;
    }
    if (!isLive(view)) return true;
    if (Date.now() >= end) return false;
    await sleep(pollDelay(round));
  }
}

/** 5, 10, 20, 40, then 50 ms: a monitor usually ends within a few ms of its container. */
function pollDelay(round: number): number {
  return Math.min(5 * 2 ** round, 50);
}

/** Removes a container; a live one only with `force` (it is killed first). Nothing stays behind. */
export async function removeContainer(store: ContainerStore, id: string, force: boolean): Promise<void> {
  const view = viewContainer(store, id);
  if (isLive(view) && !force) {
    throw new UsageError(
      'CONTAINER_RUNNING',
      `cannot remove container ${view.config.name}: it is ${view.state.status}`,
      { hint: 'stop it first with `hutch stop`, or use `hutch rm -f`' },
    );
  }
  const live = isLive(view);
  if (live) {
    markRemoving(store, id);
    await killAll(store, id);
  }
  await reapLeftovers(store, id);
  // What the monitor's finish removes besides the record (removeRecord takes the network folder).
  if (live)
    await cgroupOf(readState(store, id))
      ?.remove()
      .catch(() => undefined);
  await removeRecord(store, id);
}

/**
 * Tells the C waiter (native/monitor.c) that the record goes: it then ends with the container
 * instead of exec'ing the Node monitor's finish, a Node start on the path of every `rm -f` to
 * record an exit no one would read. A waiter past that point already is waited for as before.
 */
function markRemoving(store: ContainerStore, id: string): void {
  try {
    writeFileSync(containerFiles(store, id).removing, '', { mode: 0o600 });
  } catch {
    // no run folder: no waiter either
  }
}

/** SIGKILL to every process of the container: its whole cgroup where it has one (no escape by double fork). */
async function killAll(store: ContainerStore, id: string): Promise<void> {
  // The end asked first: a monitor still creating the container (no pid recorded yet) kills it
  // as it records the pid (monitor.ts oneRun); one that recorded it first is signalled below.
  await updateState(store, id, (s) => ({ ...s, stopRequested: true })).catch(() => undefined);
  await signalContainer(store, id, 'SIGKILL').catch(() => undefined);
  await killCgroup(readState(store, id)).catch(() => undefined);
}

/** Waits for the monitor to end; kills it, and any process of the container it left, if it hangs. */
async function reapLeftovers(store: ContainerStore, id: string): Promise<void> {
  const state = await withContainerLock(store, id, () => readState(store, id)).catch(() => undefined);
  if (state === undefined) return;
  for (
    let round = 0, end = Date.now() + 10_000;
    Date.now() < end && isSameProcess(state.monitorPid, state.monitorStart);
    round++
  )
    await sleep(pollDelay(round));
  for (const [pid, start] of [
    [state.monitorPid, state.monitorStart],
    [state.pid, state.pidStart],
  ] as const) {
    if (isSameProcess(pid, start)) {
      try {
        process.kill(pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

function request(socket: string, op: string): Promise<string> {
  const short = shortSocketPath(socket);
  return new Promise<string>((resolve, reject) => {
    const conn = connect(short.path);
    let text = '';
    conn.on('connect', () => conn.write(op + '\n'));
    conn.on('data', (c) => (text += c.toString()));
    conn.on('end', () => resolve(text.trim()));
    conn.on('error', (error) =>
      reject(
        new RuntimeError(
          'MONITOR_UNREACHABLE',
          `cannot reach the monitor at ${socket}: ${(error as NodeJS.ErrnoException).code}`,
          { hint: 'the container may have ended; check `hutch ps -a`', cause: error },
        ),
      ),
    );
  }).finally(() => short.close());
}
