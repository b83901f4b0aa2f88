import { closeSync, existsSync, lstatSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../../errors.js';
import type { HutchPaths } from '../../paths.js';
import { isSameProcess, processStartTime } from '../../sys/proc.js';
import { lockHolders, tryLock } from '../../sys/trylock.js';
import { listContainers, removeContainer } from '../container/index.js';
import { listOci, ociDelete, ociStatus } from '../oci/index.js';
import { endSharedDaemons, removeTree } from '../setup/index.js';
import { isLive, userStore } from '../store/index.js';

/**
 * `hutch system reset`: everything hutch keeps for the user, as podman's `system reset` takes it:
 * containers (records, writable layers, volumes, logs), images, layers and blobs in the data
 * directory; sockets, generated files and the code cache in the runtime directory; the OCI face's
 * state. Containers that still run are refused unless forced, and then ended first, so that no
 * process or mount is left using what goes; then the shared union daemons (one may linger after
 * its last container) are asked to leave.
 */
export interface ResetPlan {
  paths: HutchPaths;
  /** The OCI face's state root (`hutch runtime`), with no --root only. */
  ociRoot?: string;
  /** The folders that go, in order, each only when it exists. */
  dirs: string[];
  /** Names of what still runs: containers (run -d, create), foreground runs, OCI containers. */
  running: string[];
}

export interface ResetResult {
  containers: number;
  removed: string[];
  /** What could not be ended before the removal (a shared union daemon that would not leave). */
  warnings: string[];
}

/** What a reset of `paths` (and of the OCI face's `ociRoot`) would take. */
export async function planReset(paths: HutchPaths, ociRoot: string | undefined): Promise<ResetPlan> {
  const running = (await listContainers(userStore(paths)))
    .filter(isLive)
    .map((v) => `${v.config.name} (${v.config.id.slice(0, 12)})`);
  for (const id of foregroundRuns(paths)) running.push(`a foreground hutch run (${id.slice(0, 12)})`);
  if (ociRoot !== undefined) {
    for (const r of await listOci(ociRoot))
      if (ociStatus(r) === 'running' || ociStatus(r) === 'created') running.push(`${r.id} (hutch runtime)`);
  }
  const dirs = [paths.data, paths.run, ...(ociRoot === undefined ? [] : [ociRoot])];
  return { paths, ociRoot, dirs: dirs.filter((d) => existsSync(d)), running };
}

/** Ends what runs (only with `force`), then removes every container and folder of the plan. */
export async function reset(plan: ResetPlan, force: boolean): Promise<ResetResult> {
  if (plan.running.length > 0 && !force) {
    throw new UsageError(
      'RESET_CONTAINERS_RUNNING',
      `cannot reset hutch's storage: ${plan.running.length} container(s) still run: ${plan.running.join(', ')}`,
      {
        hint: 'stop them first (`hutch stop`, or end the foreground runs), or use `hutch system reset --force`, which stops them',
      },
    );
  }
  for (const id of foregroundRuns(plan.paths)) await endForegroundRun(plan.paths, id);
  const store = userStore(plan.paths);
  const containers = await listContainers(store);
  // Through the lifecycle code: it kills the container's whole cgroup and waits for its monitor.
  for (const v of containers) await removeContainer(store, v.config.id, true);
  if (plan.ociRoot !== undefined)
    for (const r of await listOci(plan.ociRoot)) await ociDelete(plan.ociRoot, r.id, true);
  // Their containers are gone: a daemon lingers or ends its last sessions; it goes before its store.
  const warnings = endSharedDaemons(plan.paths.run);
  const removed: string[] = [];
  for (const dir of plan.dirs) if (await removeOwnFolder(dir)) removed.push(dir);
  return { containers: containers.length, removed, warnings };
}

/** Ids of the foreground `hutch run`s in progress: their runtime folder's lock is held. */
function foregroundRuns(paths: HutchPaths): string[] {
  const parent = join(paths.run, 'ephemeral');
  if (!existsSync(parent)) return [];
  return readdirSync(parent).filter((name) => !name.startsWith('.') && held(join(parent, name, 'lock')));
}

function held(lock: string): boolean {
  if (!existsSync(lock)) return false;
  const fd = tryLock(lock);
  if (fd === undefined) return true;
  closeSync(fd); // a stale folder of a killed run: it goes with the rest
  return false;
}

/**
 * Ends a foreground `hutch run` as a user's Ctrl-C would: SIGTERM to the hutch holding the folder's
 * lock, which passes it on to the container and removes its folders; SIGKILL after 10 s (the
 * helper's parent-death signal then ends the container; the folders go with the data directory).
 */
async function endForegroundRun(paths: HutchPaths, id: string): Promise<void> {
  let holders: { pid: number; start: number | undefined }[];
  try {
    holders = lockHolders(join(paths.run, 'ephemeral', id, 'lock')).map((pid) => ({
      pid,
      start: processStartTime(pid),
    }));
  } catch {
    return; // it ended meanwhile
  }
  const alive = (): boolean => holders.some((h) => isSameProcess(h.pid, h.start));
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    for (const h of holders) if (isSameProcess(h.pid, h.start)) signalQuietly(h.pid, signal);
    for (let waited = 0; waited < 10_000 && alive(); waited += 50) await sleep(50);
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/**
 * Removes a folder of hutch's (files of the container's other users too, through removeTree).
 * A symbolic link (a data directory moved to a bigger disk) keeps the link and loses the contents.
 */
async function removeOwnFolder(dir: string): Promise<boolean> {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined) return false;
  if (!st.isSymbolicLink()) {
    await removeTree(dir);
    return true;
  }
  for (const entry of readdirSync(dir)) await removeTree(join(dir, entry));
  return true;
}

/** Removes --root's own folder once its data and run folders are gone, when nothing else is in it. */
export function removeEmptyRoot(root: string): void {
  try {
    rmdirSync(root);
  } catch {
    // not empty, or already gone: leave it
  }
}
