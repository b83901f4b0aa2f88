import { cgroupOf, resolveContainer, userStore, viewContainer } from '../store/index.js';
import type { HutchPaths } from '../../paths.js';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSameProcess, processTree } from '../../sys/proc.js';

/**
 * `hutch commit --pause` (the default, as podman's): a running container is frozen while its layer
 * is read, so that the image is one moment of it. Through its cgroup's freezer when it has a
 * cgroup; else every process of it (its PID 1 and what is below) gets SIGSTOP, then SIGCONT. A
 * container that is not running, or paused already, is left as it is. Returns the thaw.
 */
export async function freezeForCommit(paths: HutchPaths, ref: string): Promise<() => Promise<void>> {
  const store = userStore(paths);
  const { state } = viewContainer(store, resolveContainer(store, ref));
  if (state.status !== 'running' || !isSameProcess(state.pid, state.pidStart)) return async () => undefined;
  const cgroup = cgroupOf(state);
  if (cgroup !== undefined) {
    await cgroup.freeze();
    return () => cgroup.thaw();
  }
  const pids = processTree(state.pid!).map((p) => p.pid);
  signalAll(pids, 'SIGSTOP');
  await untilStopped(pids);
  return async () => signalAll(pids, 'SIGCONT');
}

/**
 * kill() returns before a stop takes effect: the target stops when it next runs, which on a loaded
 * machine can come after commit has begun reading the layer. Waits until each is stopped or gone
 * (bounded: a process in uninterruptible sleep stops when it wakes).
 */
async function untilStopped(pids: number[], limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let running = pids;
  while (running.length > 0 && Date.now() < deadline) {
    running = running.filter((pid) => !stoppedOrGone(pid));
    if (running.length > 0) await sleep(2);
  }
}

function stoppedOrGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't' || state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // it exited meanwhile
    }
  }
}
