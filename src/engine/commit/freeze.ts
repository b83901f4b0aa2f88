import { cgroupOf, resolveContainer, userStore, viewContainer } from '../store/index.js';
import type { HutchPaths } from '../../paths.js';
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
  return async () => signalAll(pids, 'SIGCONT');
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
