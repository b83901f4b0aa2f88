import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { attachContainerCgroup, type CgroupHandle } from '../../cgroups/cgroup.js';
import type { LinuxResources } from '../../cgroups/resources.js';
import { CgroupError, UsageError } from '../../errors.js';
import { viewContainer, type ContainerView } from './view.js';
import { readState, updateState, type ContainerState, type ContainerStore } from './records.js';

/**
 * What commands do with a running container's cgroup, found through state.json (the monitor
 * records it when it makes it): pause/unpause (cgroup.freeze), update (live limits, kept for
 * restarts), the OOM verdict, and the kill of every process (cgroup.kill).
 */
export function cgroupOf(state: ContainerState): CgroupHandle | undefined {
  if (state.cgroup === undefined || !existsSync(join(state.cgroup.path, 'cgroup.procs'))) return undefined;
  return attachContainerCgroup(state.cgroup);
}

/** The monitor's onCgroup: records the cgroup (or its absence) and applies `hutch update`'s limits. */
export function recordCgroup(store: ContainerStore, id: string): (handle: CgroupHandle | undefined) => Promise<void> {
  return async (handle) => {
    const state = await updateState(store, id, (s) => ({ ...s, cgroup: handle && infoOf(handle), oomKilled: false }));
    if (handle !== undefined && state.resources !== undefined)
      handle.update(state.resources, (line) => void process.stderr.write(`hutch: warning: ${line}\n`));
  };
}

/** Whether the kernel OOM-killed a process of the container (read before its cgroup goes). */
export function oomKilledNow(store: ContainerStore, id: string): boolean {
  try {
    return cgroupOf(readState(store, id))?.oomKilled() ?? false;
  } catch {
    return false;
  }
}

/** Freezes (pause) or thaws (unpause) a container through its cgroup. */
export async function setPaused(store: ContainerStore, id: string, paused: boolean): Promise<void> {
  const view = viewContainer(store, id);
  const verb = paused ? 'pause' : 'unpause';
  const want = paused ? 'running' : 'paused';
  if (view.state.status !== want) {
    throw new UsageError(
      'CONTAINER_STATE',
      `cannot ${verb} container ${view.config.name}: it is ${view.state.status}`,
      { hint: paused ? 'start it first with `hutch start`' : 'only a paused container can be unpaused' },
    );
  }
  const handle = needCgroup(view, verb);
  if (paused) await handle.freeze();
  else await handle.thaw();
  await updateState(store, id, (s) => ({
    ...s,
    status: s.status === want ? (paused ? 'paused' : 'running') : s.status,
  }));
}

/**
 * `hutch update`: applies the limits live to a running container (unenforceable ones warn) and
 * keeps them for its next starts. A live container without a cgroup of its own fails clearly.
 */
export async function updateResources(
  store: ContainerStore,
  id: string,
  resources: LinuxResources,
  warn: (line: string) => void,
): Promise<void> {
  const view = viewContainer(store, id);
  const live = view.state.status === 'running' || view.state.status === 'paused' || view.state.status === 'created';
  if (live) needCgroup(view, 'update').update(resources, warn);
  await updateState(store, id, (s) => ({ ...s, resources: mergeResources(s.resources ?? {}, resources) }));
}

/** Kills every process of the container's cgroup (so a double fork cannot escape); false without one. */
export async function killCgroup(state: ContainerState): Promise<boolean> {
  const handle = cgroupOf(state);
  if (handle === undefined) return false;
  await handle.kill();
  return true;
}

/** Later limits override earlier ones, key by key. */
export function mergeResources(old: LinuxResources, next: LinuxResources): LinuxResources {
  const merged: LinuxResources = { ...old, ...next };
  if (old.memory || next.memory) merged.memory = { ...old.memory, ...next.memory };
  if (old.cpu || next.cpu) merged.cpu = { ...old.cpu, ...next.cpu };
  if (old.blockIO || next.blockIO) merged.blockIO = { ...old.blockIO, ...next.blockIO };
  if (old.unified || next.unified) merged.unified = { ...old.unified, ...next.unified };
  return merged;
}

function needCgroup(view: ContainerView, verb: string): CgroupHandle {
  const handle = cgroupOf(view.state);
  if (handle !== undefined) return handle;
  const what = verb === 'update' ? 'its limits cannot change' : 'it has no freezer';
  throw new CgroupError(
    verb === 'update' ? 'CGROUP_UPDATE_UNAVAILABLE' : 'CGROUP_FREEZER_UNAVAILABLE',
    `cannot ${verb} container ${view.config.name}: it has no cgroup of its own, so ${what}`,
    {
      hint: 'this needs a delegated cgroup v2 subtree (a systemd user session, or `loginctl enable-linger`); `hutch system info` shows what this host gives',
    },
  );
}

function infoOf(handle: CgroupHandle): NonNullable<ContainerState['cgroup']> {
  const { path, group, manager, unit, controllers, required } = handle;
  return unit === undefined
    ? { path, group, manager, controllers, required }
    : { path, group, manager, unit, controllers, required };
}
